// Small building blocks shared by the pages.
import type { ReactNode } from "react";
import { num, pct } from "../format";

export function Stat({ label, value, tone }: { label: string; value: string; tone?: number }) {
  const colour = tone === undefined ? "" : tone >= 0 ? "up" : "down";
  return (
    <div className="stat">
      <div className="stat-label">{label}</div>
      <div className={`stat-value ${colour}`} data-testid={`stat-${label}`}>
        {value}
      </div>
    </div>
  );
}

export function Card({ title, children }: { title: string; children: ReactNode }) {
  return (
    <section className="card">
      <h2>{title}</h2>
      {children}
    </section>
  );
}

export function ErrorLine({ error }: { error: string | null | undefined }) {
  return error ? (
    <div className="error" role="alert">
      {error}
    </div>
  ) : null;
}

const PERCENT_METRICS = new Set([
  "total_return",
  "annual_return",
  "max_drawdown",
  "win_rate",
  "costs_fraction",
  "exposure",
]);

export function metricText(metric: string, value: number | null): string {
  return PERCENT_METRICS.has(metric) ? pct(value) : num(value);
}

/** Runs side by side: a header of run names, a row per metric, the main run highlighted. */
export function SideBySide({
  runs,
  rows,
  main,
}: {
  runs: string[];
  rows: { metric: string; values: (number | null)[] }[];
  main?: string | null;
}) {
  return (
    <table className="table" data-testid="metrics-vs-baselines">
      <thead>
        <tr>
          <th>metric</th>
          {runs.map((run) => (
            <th key={run} className={run === main ? "main" : ""}>
              {run}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map((row) => (
          <tr key={row.metric}>
            <td>{row.metric}</td>
            {row.values.map((value, index) => (
              <td key={runs[index]} className={runs[index] === main ? "main" : ""}>
                {metricText(row.metric, value)}
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
