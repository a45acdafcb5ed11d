/** The 90-day uptime bar: a component's status history folded into one worst status per day. */

/** Days shown in the uptime bar. */
export const UPTIME_DAYS = 90;

export interface UptimeDay {
  /** `YYYY-MM-DD` (UTC). */
  date: string;
  /** Worst status held during the day (0 when there is no history for it yet). */
  worst: number;
}

export interface UptimeBar {
  days: UptimeDay[];
  /** Share of known days spent fully operational, in percent with one decimal; null with no history. */
  percent: number | null;
}

const DAY_MS = 86_400_000;

/**
 * Folds `changes` (oldest first; the first may predate the window) into `UPTIME_DAYS` days ending
 * with the day of `now`. A day's worst status is the highest status the component held in it.
 */
export function uptimeBar(changes: ReadonlyArray<{ status: number; at: string }>, now: Date): UptimeBar {
  const end = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()) + DAY_MS;
  const start = end - UPTIME_DAYS * DAY_MS;
  const days: UptimeDay[] = [];
  let index = 0;
  let current: number | null = null;
  while (index < changes.length && Date.parse(changes[index]!.at) < start) current = changes[index++]!.status;
  for (let dayStart = start; dayStart < end; dayStart += DAY_MS) {
    let worst = current ?? 0;
    while (index < changes.length && Date.parse(changes[index]!.at) < dayStart + DAY_MS && Date.parse(changes[index]!.at) <= now.getTime()) {
      current = changes[index++]!.status;
      worst = Math.max(worst, current);
    }
    days.push({ date: new Date(dayStart).toISOString().slice(0, 10), worst: dayStart > now.getTime() ? 0 : worst });
  }
  const known = days.filter((d) => d.worst > 0);
  const percent = known.length === 0 ? null : Math.round((known.filter((d) => d.worst === 1).length / known.length) * 1000) / 10;
  return { days, percent };
}
