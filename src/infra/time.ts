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

/** The stored form: `toStoredTime`'s output, years 1000–9999 (the fast paths below need four digits). */
const STORED = /^[1-9]\d{3}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?Z$/;

/**
 * One formatter per zone, made on first use. Keys are canonical zone names only (callers pass
 * `canonicalTimeZone`'s output or the configured zone), so the map is bounded by the zone table.
 */
const FORMATTERS = new Map<string, Intl.DateTimeFormat>();

function formatterFor(zone: string): Intl.DateTimeFormat {
  let formatter = FORMATTERS.get(zone);
  if (formatter === undefined) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      era: 'short',
    });
    FORMATTERS.set(zone, formatter);
  }
  return formatter;
}

/**
 * Renders a stored ISO-8601 UTC instant as Cachet does: `2024-05-01 13:45:00` in `zone`.
 *
 * On the hot path of every listing (two or three times per row), so without a per-call luxon
 * object: UTC is a slice of the stored text, other zones go through one cached
 * `Intl.DateTimeFormat` per zone. Anything else (years before 1000, text not in the stored form)
 * takes luxon's general path; test/unit/time.test.ts checks both against luxon, DST included.
 */
export function formatCachetTime(iso: string | null, zone: string): string | null {
  if (iso === null) return null;
  if (STORED.test(iso)) {
    if (zone === 'UTC') return `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
    const parts = formatterFor(zone).formatToParts(Date.parse(iso));
    let year = '', month = '', day = '', hour = '', minute = '', second = '', era = '';
    for (const part of parts) {
      switch (part.type) {
        case 'year': year = part.value; break;
        case 'month': month = part.value; break;
        case 'day': day = part.value; break;
        case 'hour': hour = part.value; break;
        case 'minute': minute = part.value; break;
        case 'second': second = part.value; break;
        case 'era': era = part.value; break;
      }
    }
    // A zone's wall time can cross into year 999 or 10000 only at the ends of the stored range.
    if (era === 'AD' && year.length === 4) return `${year}-${month}-${day} ${hour}:${minute}:${second}`;
  }
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
