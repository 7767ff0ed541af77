// Run a backtest (a job) or open a past one: metrics vs baselines, curves, months, trades.
import { useEffect, useMemo, useState, type FormEvent } from "react";
import { getJSON, postJSON } from "../api";
import { JobRow, type Job } from "../components/Jobs";
import { TimeChart, type Candle } from "../components/TimeChart";
import { Card, ErrorLine, SideBySide } from "../components/ui";
import {
  day, monthlyGrid, num, pct, returnColour, sideBySide, toLine, tradeMarkers,
  type MonthlyReturn, type Point, type Trade,
} from "../format";
import { useApi, useVariants } from "../hooks";

const METRICS = ["total_return", "annual_return", "sharpe", "sortino", "max_drawdown", "calmar",
  "win_rate", "turnover", "trades", "costs_fraction", "exposure"];

interface Detail {
  id: string;
  main: string | null;
  comparison: Record<string, Record<string, number | null>>;
  curves: { equity: Point[]; drawdown: Point[]; buy_and_hold?: Point[] };
  monthly_returns: MonthlyReturn[];
  trades: Trade[];
  trade_count: number;
  symbols: string[];
  span: [string, string] | null;
}

interface Listed {
  id: string;
  main: string;
  metrics: Record<string, number | null> | null;
}

export function BacktestPage() {
  const past = useApi<Listed[]>("backtests", 5000);
  const reloadPast = past.reload;
  const [opened, setOpened] = useState<string | null>(null);
  const [job, setJob] = useState<Job | null>(null);
  useEffect(() => {
    if (!job || job.state !== "running") return;
    const timer = setTimeout(() => getJSON<Job>(`jobs/${job.id}`).then((fresh) => {
      setJob(fresh);
      if (fresh.state === "succeeded") {
        setOpened(fresh.id);
        reloadPast();
      }
    }), 800);
    return () => clearTimeout(timer);
  }, [job, reloadPast]);
  return (
    <div>
      <div className="columns">
        <RunForm onStarted={setJob} />
        <Card title="Past backtests">
          {job && <JobRow job={job} />}
          <table className="table" data-testid="backtests-table">
            <thead><tr><th>backtest</th><th>model</th><th>total return</th><th>Sharpe</th></tr></thead>
            <tbody>
              {(past.data ?? []).map((row) => (
                <tr key={row.id} className={row.id === opened ? "selected clickable" : "clickable"} onClick={() => setOpened(row.id)}>
                  <td>{row.id}</td><td>{row.main}</td>
                  <td>{pct(row.metrics?.total_return ?? null)}</td><td>{num(row.metrics?.sharpe ?? null, 2)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </Card>
      </div>
      {opened && <BacktestView id={opened} />}
    </div>
  );
}

function RunForm({ onStarted }: { onStarted: (job: Job) => void }) {
  const settings = useApi<{ costs: Record<string, number>; limits: Record<string, number>; rule: Record<string, number> }>("settings");
  const variants = useVariants();
  const [source, setSource] = useState("variant");
  const [variant, setVariant] = useState("hybrid");
  const [signals, setSignals] = useState("");
  const [error, setError] = useState<string | null>(null);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    const chosen = source === "variant" ? { variant } : { signals };
    const { costs, limits, rule } = settings.data ?? {};
    postJSON<Job>("jobs/backtest", { ...chosen, costs, limits, rule }).then(onStarted).catch((e: Error) => setError(e.message));
  };
  return (
    <Card title="Run a backtest">
      <form onSubmit={submit} className="form">
        <label><input type="radio" checked={source === "variant"} onChange={() => setSource("variant")} /> a variant's walk-forward predictions</label>
        <select value={variant} onChange={(e) => setVariant(e.target.value)} data-testid="backtest-variant">
          {variants.map((v) => <option key={v}>{v}</option>)}
        </select>
        <label><input type="radio" checked={source === "signals"} onChange={() => setSource("signals")} /> a signal file in the home folder</label>
        <input value={signals} placeholder="signals/my_signals.csv" onChange={(e) => setSignals(e.target.value)} />
        <p className="muted">
          Costs {settings.data ? `${settings.data.costs.slippage_bps} bps + ${pct(settings.data.costs.commission, 2)}` : "…"},
          limits and rule from Settings.
        </p>
        <button type="submit" data-testid="start-backtest">run backtest</button>
        <ErrorLine error={error} />
      </form>
    </Card>
  );
}

function BacktestView({ id }: { id: string }) {
  const { data, error } = useApi<Detail>(`backtests/${id}`);
  const [symbol, setSymbol] = useState<string | null>(null);
  const shownSymbol = symbol ?? data?.symbols[0] ?? null;
  const span = data?.span;
  const bars = useApi<Candle[]>(shownSymbol && span ? `store/1d/${shownSymbol}/candles?start=${span[0].slice(0, 10)}&end=${span[1].slice(0, 10)}` : null);
  const equity = useMemo(() => {
    if (!data) return [];
    const lines = [{ kind: "area" as const, data: toLine(data.curves.equity), color: "#2962ff", title: data.main ?? "" }];
    if (data.curves.buy_and_hold) lines.push({ kind: "area" as const, data: toLine(data.curves.buy_and_hold), color: "#9e9e9e", title: "buy & hold" });
    return lines;
  }, [data]);
  const drawdown = useMemo(() => [{ kind: "area" as const, data: toLine(data?.curves.drawdown ?? []), color: "#cc3333" }], [data]);
  const candles = useMemo(
    () => [{ kind: "candles" as const, data: bars.data ?? [], markers: tradeMarkers(data?.trades ?? [], shownSymbol ?? "") }],
    [bars.data, data, shownSymbol],
  );
  if (!data) return <ErrorLine error={error} />;
  const runs = Object.keys(data.comparison);
  return (
    <div>
      <Card title={`Backtest ${data.id}: ${data.main} against the baselines (net of costs)`}>
        <SideBySide runs={runs} rows={sideBySide(data.comparison, METRICS)} main={data.main} />
      </Card>
      <Card title="Equity"><TimeChart series={equity} testId="backtest-equity" /></Card>
      <Card title="Drawdown"><TimeChart series={drawdown} height={160} testId="backtest-drawdown" /></Card>
      <Card title="Monthly returns"><MonthlyTable rows={data.monthly_returns} /></Card>
      <Card title="Trades on the candles">
        <select value={shownSymbol ?? ""} onChange={(e) => setSymbol(e.target.value)}>
          {data.symbols.map((s) => <option key={s}>{s}</option>)}
        </select>
        {bars.data && <TimeChart series={candles} height={300} testId="backtest-candles" />}
      </Card>
      <Card title={`Trades (${data.trade_count})`}>
        <table className="table" data-testid="trades-table">
          <thead><tr><th>day</th><th>symbol</th><th>side</th><th>quantity</th><th>price</th><th>cost</th><th>reason</th></tr></thead>
          <tbody>
            {data.trades.map((t, index) => (
              <tr key={index}>
                <td>{day(t.time)}</td><td>{t.symbol}</td><td className={t.side === "buy" ? "up" : "down"}>{t.side}</td>
                <td>{num(t.quantity, 1)}</td><td>{num(t.price, 2)}</td><td>{num(t.cost, 2)}</td><td>{t.reason}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Card>
    </div>
  );
}

export function MonthlyTable({ rows }: { rows: MonthlyReturn[] }) {
  const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  return (
    <table className="table monthly" data-testid="monthly-returns">
      <thead><tr><th>year</th>{months.map((m) => <th key={m}>{m}</th>)}<th>year</th></tr></thead>
      <tbody>
        {monthlyGrid(rows).map((row) => (
          <tr key={row.year}>
            <td>{row.year}</td>
            {row.months.map((value, index) => (
              <td key={index} style={{ background: returnColour(value) }}>{value === null ? "" : pct(value)}</td>
            ))}
            <td style={{ background: returnColour(row.total, 0.3) }}>{pct(row.total)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
