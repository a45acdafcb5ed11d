/** Server-rendered metric charts: points bucketed over the metric's default view, drawn as an SVG polyline. */

/** Window and bucket size of each `default_view` (Cachet: last hour, last 12 hours, week, month). */
export const METRIC_VIEWS = [
  { name: 'last hour', windowMs: 3_600_000, bucketMs: 60_000 },
  { name: 'last 12 hours', windowMs: 12 * 3_600_000, bucketMs: 15 * 60_000 },
  { name: 'last week', windowMs: 7 * 86_400_000, bucketMs: 3_600_000 },
  { name: 'last month', windowMs: 30 * 86_400_000, bucketMs: 86_400_000 },
] as const;

export interface MetricChart {
  view: string;
  /** SVG `points` attribute of the line (numbers only). */
  polyline: string;
  min: number;
  max: number;
  latest: number;
}

const WIDTH = 600;
const HEIGHT = 120;

/**
 * Buckets `points` (oldest first) over the metric's view ending at `now`: a bucket is the sum
 * (`calcType` 0) or average (1) of its points' values × counters; an empty bucket is `defaultValue`.
 */
export function metricChart(
  metric: { default_view: number; calc_type: number; default_value: number; places: number },
  points: ReadonlyArray<{ value: number; counter: number; created_at: string }>,
  now: Date,
): MetricChart {
  const view = METRIC_VIEWS[metric.default_view] ?? METRIC_VIEWS[0];
  const count = Math.round(view.windowMs / view.bucketMs);
  const start = now.getTime() - view.windowMs;
  const sums = new Array<number>(count).fill(0);
  const counts = new Array<number>(count).fill(0);
  for (const point of points) {
    // Buckets cover (start, now]: a point made this instant is in the last one.
    const index = Math.ceil((Date.parse(point.created_at) - start) / view.bucketMs) - 1;
    if (index < 0 || index >= count) continue;
    sums[index]! += point.value * point.counter;
    counts[index]! += point.counter;
  }
  const round = (n: number) => Number(n.toFixed(Math.min(Math.max(metric.places, 0), 10)));
  const values = sums.map((sum, i) => round(counts[i] === 0 ? metric.default_value : metric.calc_type === 1 ? sum / counts[i]! : sum));
  const min = Math.min(...values);
  const max = Math.max(...values);
  const span = max - min || 1;
  const polyline = values
    .map((v, i) => `${((i / Math.max(count - 1, 1)) * WIDTH).toFixed(1)},${(HEIGHT - 4 - ((v - min) / span) * (HEIGHT - 8)).toFixed(1)}`)
    .join(' ');
  return { view: view.name, polyline, min, max, latest: values.at(-1) ?? metric.default_value };
}
