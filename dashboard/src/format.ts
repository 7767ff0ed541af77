// Data transforms from the API's shapes to what the tables and charts show (tested in Vitest).

export type Point = [number, number]; // [unix seconds, value]

export function money(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–";
  const sign = value < 0 ? "-" : "";
  return `${sign}$${Math.abs(value).toLocaleString("en-US", { maximumFractionDigits: 0 })}`;
}

export function pct(value: number | null | undefined, digits = 1): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–";
  return `${(value * 100).toFixed(digits)}%`;
}

export function num(value: number | null | undefined, digits = 3): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–";
  return Math.abs(value) >= 1000 ? value.toFixed(0) : value.toFixed(digits);
}

export function day(seconds: number): string {
  return new Date(seconds * 1000).toISOString().slice(0, 10);
}

/** [t, v] pairs as lightweight-charts line data (times strictly increasing, as it requires). */
export function toLine(points: Point[]): { time: number; value: number }[] {
  const out: { time: number; value: number }[] = [];
  for (const [time, value] of points) {
    if (out.length && time <= out[out.length - 1].time) continue;
    out.push({ time, value });
  }
  return out;
}

export interface MetricLine {
  fold?: number;
  epoch: number;
  train_loss?: number | null;
  val_loss?: number | null;
  [name: string]: unknown;
}

/** Loss curves from metrics.jsonl lines: x counts epochs across folds, so folds follow on. */
export function lossCurves(lines: MetricLine[]): { train: Point[]; validation: Point[] } {
  const train: Point[] = [];
  const validation: Point[] = [];
  lines.forEach((line, index) => {
    if (typeof line.train_loss === "number") train.push([index + 1, line.train_loss]);
    if (typeof line.val_loss === "number") validation.push([index + 1, line.val_loss]);
  });
  return { train, validation };
}

/** The last line's validation figures (val_*), for the live metrics table. */
export function latestValidation(lines: MetricLine[]): [string, number][] {
  const last = lines[lines.length - 1];
  if (!last) return [];
  return Object.entries(last)
    .filter(([name, value]) => name.startsWith("val_") && typeof value === "number")
    .map(([name, value]) => [name, value as number]);
}

export interface MonthlyReturn {
  year: number;
  month: number; // 1-12
  return: number;
}

/** Monthly returns as a year x month grid, with each year's compounded total. */
export function monthlyGrid(rows: MonthlyReturn[]): {
  year: number;
  months: (number | null)[];
  total: number;
}[] {
  const years = new Map<number, (number | null)[]>();
  for (const row of rows) {
    if (!years.has(row.year)) years.set(row.year, Array(12).fill(null));
    years.get(row.year)![row.month - 1] = row.return;
  }
  return [...years.entries()]
    .sort(([a], [b]) => a - b)
    .map(([year, months]) => ({
      year,
      months,
      total: months.reduce<number>((growth, r) => growth * (1 + (r ?? 0)), 1) - 1,
    }));
}

/** A colour for a return: green up, red down, stronger with size (capped at ``scale``). */
export function returnColour(value: number | null, scale = 0.1): string {
  if (value === null) return "transparent";
  const strength = Math.min(Math.abs(value) / scale, 1);
  const hue = value >= 0 ? "34, 160, 90" : "210, 60, 60";
  return `rgba(${hue}, ${(0.15 + 0.75 * strength).toFixed(2)})`;
}

/** Attention weights scaled to [0, 1] by the largest, for the heat map. */
export function heatLevels(weights: number[]): number[] {
  const top = Math.max(...weights, 0);
  return weights.map((w) => (top > 0 ? w / top : 0));
}

export interface Trade {
  time: number;
  symbol: string;
  side: string; // buy or sell
  quantity: number;
  price: number;
  cost: number;
  reason: string;
}

export interface Marker {
  time: number;
  position: "belowBar" | "aboveBar";
  color: string;
  shape: "arrowUp" | "arrowDown";
  text: string;
}

/** Entry/exit markers of one symbol's fills for the candle chart, in time order. */
export function tradeMarkers(trades: Trade[], symbol: string): Marker[] {
  return trades
    .filter((trade) => trade.symbol === symbol)
    .sort((a, b) => a.time - b.time)
    .map((trade) =>
      trade.side === "buy"
        ? { time: trade.time, position: "belowBar", color: "#1f9d55", shape: "arrowUp", text: "B" }
        : { time: trade.time, position: "aboveBar", color: "#cc3333", shape: "arrowDown", text: "S" },
    );
}

/** Metrics of several runs side by side: one row per metric, one column per run. */
export function sideBySide(
  comparison: Record<string, Record<string, number | null>>,
  metrics: string[],
): { metric: string; values: (number | null)[] }[] {
  const runs = Object.keys(comparison);
  return metrics.map((metric) => ({
    metric,
    values: runs.map((run) => comparison[run]?.[metric] ?? null),
  }));
}

/** "name=value" lines of the overrides box; blank lines dropped. */
export function parseOverrides(text: string): string[] {
  return text
    .split(/[\n,]/)
    .map((item) => item.trim())
    .filter(Boolean);
}
