/** Durations as the CLI and environment write them: a whole number and a unit (`90s`, `30m`, `24h`, `30d`). */

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds for `90s`/`30m`/`24h`/`30d`, or `null` when the text is not such a duration. */
export function parseDuration(text: string): number | null {
  const match = /^(\d{1,9})([smhd])$/.exec(text.trim());
  if (!match) return null;
  const ms = Number(match[1]) * UNIT_MS[match[2]!]!;
  return ms > 0 ? ms : null;
}
