/** Cachet's date formats: how times render (`Y-m-d H:i:s` in a zone) and which input forms parse. */
import { DateTime, IANAZone } from 'luxon';

/** True for an IANA (Olson) zone name such as `Europe/London` or `UTC`. */
export function isValidTimeZone(zone: string): boolean {
  return IANAZone.isValidZone(zone);
}

/** Renders a stored ISO-8601 UTC instant as Cachet does: `2024-05-01 13:45:00` in `zone`. */
export function formatCachetTime(iso: string | null, zone: string): string | null {
  if (iso === null) return null;
  return DateTime.fromISO(iso, { zone: 'utc' }).setZone(zone).toFormat('yyyy-LL-dd HH:mm:ss');
}

const WALL_FORMATS = ['yyyy-LL-dd HH:mm', 'yyyy-LL-dd HH:mm:ss', 'yyyy-LL-dd'];

/**
 * Parses a date a Cachet client sends: `Y-m-d H:i`, `Y-m-d H:i:s` or `Y-m-d` (wall time in `zone`),
 * or ISO 8601 (its own offset wins; without one, wall time in `zone`). Returns ISO UTC, or null if unparseable.
 */
export function parseCachetTime(text: string, zone: string): string | null {
  const trimmed = text.trim();
  for (const format of WALL_FORMATS) {
    const parsed = DateTime.fromFormat(trimmed, format, { zone });
    if (parsed.isValid) return toStoredTime(parsed.toJSDate());
  }
  const iso = DateTime.fromISO(trimmed, { zone, setZone: false });
  if (iso.isValid && /^\d{4}-\d{2}-\d{2}T/.test(trimmed)) return toStoredTime(iso.toJSDate());
  return null;
}

/** Unix seconds → stored ISO UTC; null when out of the range a date can hold. */
export function unixToStoredTime(seconds: number): string | null {
  if (!Number.isFinite(seconds) || Math.abs(seconds) > 253_402_300_799) return null;
  return toStoredTime(new Date(Math.trunc(seconds) * 1000));
}

/**
 * The single storage form of an instant on both databases: ISO 8601 UTC with milliseconds,
 * which sorts correctly as text.
 */
export function toStoredTime(date: Date): string {
  return date.toISOString();
}
