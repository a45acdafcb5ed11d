/** Cachet's date formats: how times render (`Y-m-d H:i:s` in a zone) and which input forms parse. */
import { DateTime } from 'luxon';

/**
 * Current IANA names that this runtime's ICU knows only under an older canonical id (ICU keeps
 * `Asia/Calcutta` where tzdata and PHP, so Cachet clients, say `Asia/Kolkata`). Each is kept only
 * if the runtime accepts it.
 */
const RENAMED_ZONES = [
  'Africa/Asmara', 'America/Argentina/Buenos_Aires', 'America/Argentina/Catamarca', 'America/Argentina/Cordoba',
  'America/Argentina/Jujuy', 'America/Argentina/Mendoza', 'America/Atikokan', 'America/Indiana/Indianapolis',
  'America/Kentucky/Louisville', 'America/Nuuk', 'Asia/Ho_Chi_Minh', 'Asia/Kathmandu', 'Asia/Kolkata', 'Asia/Yangon',
  'Atlantic/Faroe', 'Europe/Kyiv', 'Pacific/Chuuk', 'Pacific/Kanton', 'Pacific/Pohnpei', 'Etc/UTC',
];

function acceptedByRuntime(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/**
 * Lower-cased zone name → its one spelling, built once, on first use: building it loads ICU's
 * time-zone data (some 10 MB of memory), which a CLI command on the default zone never needs.
 * Zone names come from request headers, and luxon caches a zone and its formatters per exact
 * string without eviction: only these spellings may ever reach it, so those caches stay bounded
 * whatever clients send.
 */
let zones: ReadonlyMap<string, string> | null = null;

/** The canonical spelling of a zone name given in any letter case (`europe/london` → `Europe/London`), or null when unknown. */
export function canonicalTimeZone(zone: string): string | null {
  const key = zone.trim().toLowerCase();
  // The default zone, without the map ('UTC' is in it under this spelling).
  if (key === 'utc') return 'UTC';
  zones ??= new Map([...Intl.supportedValuesOf('timeZone'), 'UTC', ...RENAMED_ZONES.filter(acceptedByRuntime)].map((name) => [name.toLowerCase(), name]));
  return zones.get(key) ?? null;
}

/** Renders a stored ISO-8601 UTC instant as Cachet does: `2024-05-01 13:45:00` in `zone`. */
export function formatCachetTime(iso: string | null, zone: string): string | null {
  if (iso === null) return null;
  return DateTime.fromISO(iso, { zone: 'utc' }).setZone(zone).toFormat('yyyy-LL-dd HH:mm:ss');
}

const WALL_FORMATS = ['yyyy-LL-dd HH:mm', 'yyyy-LL-dd HH:mm:ss', 'yyyy-LL-dd'];

/**
 * Parses a date a Cachet client sends: `Y-m-d H:i`, `Y-m-d H:i:s` or `Y-m-d` (wall time in `zone`),
 * or ISO 8601 (its own offset wins; without one, wall time in `zone`). Returns ISO UTC, or null if
 * unparseable or outside the years 0000–9999 in UTC.
 */
export function parseCachetTime(text: string, zone: string): string | null {
  const trimmed = text.trim();
  for (const format of WALL_FORMATS) {
    const parsed = DateTime.fromFormat(trimmed, format, { zone });
    if (parsed.isValid) return storableTime(parsed.toJSDate());
  }
  const iso = DateTime.fromISO(trimmed, { zone, setZone: false });
  if (iso.isValid && /^\d{4}-\d{2}-\d{2}T/.test(trimmed)) return storableTime(iso.toJSDate());
  return null;
}

/**
 * The stored form of an instant, or null when its UTC year falls outside 0000–9999: beyond them
 * the ISO form grows a sign and six digits (`+010000-…`) and no longer sorts as text.
 */
function storableTime(date: Date): string | null {
  if (Number.isNaN(date.getTime())) return null;
  const stored = toStoredTime(date);
  return /^\d{4}-/.test(stored) ? stored : null;
}

/**
 * The single storage form of an instant on both databases: ISO 8601 UTC with milliseconds,
 * which sorts correctly as text.
 */
export function toStoredTime(date: Date): string {
  return date.toISOString();
}
