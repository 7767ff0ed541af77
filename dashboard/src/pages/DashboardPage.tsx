// The paper portfolio that the live path (ingested bars -> signal rule) trades, refreshed live.
import { useMemo } from "react";
import { TimeChart } from "../components/TimeChart";
import { Card, ErrorLine, Stat } from "../components/ui";
import { money, num, pct, toLine, type Point } from "../format";
import { useApi } from "../hooks";

interface Signal {
  symbol: string;
  timestamp: string;
  close: number;
  target: number;
  forecast: { horizon: number; p_down: number; p_flat: number; p_up: number; expected_return: number } | null;
}

export interface Portfolio {
  bars: number;
  symbols: number;
  equity: number;
  pnl_today: number;
  pnl_total: number;
  sharpe: number | null;
  drawdown: number;
  max_drawdown: number;
  costs_total: number;
  cost_per_unit: number;
  equity_curve: Point[];
  drawdown_curve: Point[];
  signals: Signal[];
  last_timestamp: string | null;
  risk: {
    gross_exposure: number;
    daily_loss_stop_hit: boolean;
    limits: { max_position: number; max_gross: number; daily_loss_stop: number | null };
  };
}

export function DashboardPage() {
  const { data, error } = useApi<Portfolio>("portfolio", 3000);
  const equity = useMemo(
    () => [{ kind: "area" as const, data: toLine(data?.equity_curve ?? []), color: "#2962ff" }],
    [data?.equity_curve],
  );
  const drawdown = useMemo(
    () => [{ kind: "area" as const, data: toLine(data?.drawdown_curve ?? []), color: "#cc3333" }],
    [data?.drawdown_curve],
  );
  if (!data) return <ErrorLine error={error} />;
  return (
    <div>
      <ErrorLine error={error} />
      <div className="stats">
        <Stat label="equity" value={money(data.equity)} />
        <Stat label="P&L today" value={money(data.pnl_today)} tone={data.pnl_today} />
        <Stat label="P&L total" value={money(data.pnl_total)} tone={data.pnl_total} />
        <Stat label="Sharpe" value={num(data.sharpe, 2)} />
        <Stat label="drawdown" value={pct(data.drawdown)} tone={data.drawdown} />
        <Stat label="max drawdown" value={pct(data.max_drawdown)} tone={data.max_drawdown} />
        <Stat label="costs paid" value={money(data.costs_total)} />
      </div>
      {data.bars === 0 && (
        <p className="muted">
          No bars ingested yet: the portfolio trades the signals that POST /ingest answers.
        </p>
      )}
      <Card title="Equity (paper, net of costs)">
        <TimeChart series={equity} testId="equity-chart" />
      </Card>
      <Card title="Drawdown">
        <TimeChart series={drawdown} height={160} testId="drawdown-chart" />
      </Card>
      <div className="columns">
        <Card title="Latest signals">
          <table className="table" data-testid="signals-table">
            <thead>
              <tr>
                <th>symbol</th><th>bar</th><th>close</th><th>target</th><th>p(up)</th><th>exp. return</th>
              </tr>
            </thead>
            <tbody>
              {data.signals.map((s) => (
                <tr key={s.symbol}>
                  <td>{s.symbol}</td>
                  <td>{s.timestamp.slice(0, 10)}</td>
                  <td>{num(s.close, 2)}</td>
                  <td className={s.target > 0 ? "up" : s.target < 0 ? "down" : ""}>{num(s.target, 2)}</td>
                  <td>{s.forecast ? pct(s.forecast.p_up) : "warming up"}</td>
                  <td>{s.forecast ? pct(s.forecast.expected_return, 2) : "–"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </Card>
        <Card title="Risk">
          <table className="table" data-testid="risk-table">
            <tbody>
              <tr><td>gross exposure</td><td>{pct(data.risk.gross_exposure)}</td></tr>
              <tr><td>limit: gross</td><td>{pct(data.risk.limits.max_gross)}</td></tr>
              <tr><td>limit: position per symbol</td><td>{pct(data.risk.limits.max_position)}</td></tr>
              <tr><td>daily loss stop</td><td>{pct(data.risk.limits.daily_loss_stop)}</td></tr>
              <tr>
                <td>stop state</td>
                <td className={data.risk.daily_loss_stop_hit ? "down" : "up"}>
                  {data.risk.daily_loss_stop_hit ? "hit: flat for the day" : "not hit"}
                </td>
              </tr>
              <tr><td>cost per unit traded</td><td>{pct(data.cost_per_unit, 2)}</td></tr>
              <tr><td>bars / symbols</td><td>{data.bars} / {data.symbols}</td></tr>
              <tr><td>last bar</td><td>{data.last_timestamp?.slice(0, 10) ?? "–"}</td></tr>
            </tbody>
          </table>
        </Card>
      </div>
    </div>
  );
}
