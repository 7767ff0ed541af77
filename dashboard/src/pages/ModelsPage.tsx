// Loaded models, and what one of them forecasts for a stored bar and where it looked.
import { useState, type FormEvent } from "react";
import { getJSON, postJSON } from "../api";
import { Heatmap } from "../components/Heatmap";
import { JobList } from "../components/Jobs";
import { LineChart } from "../components/LineChart";
import { Card, ErrorLine } from "../components/ui";
import { day, num, pct } from "../format";
import { useApi, useVariants } from "../hooks";

interface Model {
  variant: string;
  version: string;
  features: number;
  parameters: number | null;
  weights: string | null;
  created_at: string | null;
  metrics: Record<string, number | null> | null;
}

interface Forecast {
  symbol: string;
  timestamp: string;
  variant: string;
  versions: Record<string, string>;
  forecasts: { horizon: number; p_down: number; p_flat: number; p_up: number; expected_return: number; volatility: number }[];
  signal: { position: number };
  attention: number[];
  window: { time: number; close: number }[];
}

export function ModelsPage() {
  const models = useApi<{ models: Model[]; live_variant: string }>("models");
  const store = useApi<{ symbol: string; timeframe: string; last: string }[]>("store");
  const [message, setMessage] = useState<string | null>(null);
  const reload = () =>
    postJSON<{ versions: Record<string, string> }>("models/reload")
      .then((answer) => { setMessage(`reloaded: ${JSON.stringify(answer.versions)}`); models.reload(); })
      .catch((e: Error) => setMessage(e.message));
  const symbols = (store.data ?? []).filter((s) => s.timeframe === "1d").map((s) => s.symbol);
  return (
    <div>
      <Card title="Loaded models">
        <ErrorLine error={models.error} />
        <table className="table" data-testid="models-table">
          <thead>
            <tr><th>variant</th><th>version</th><th>weights</th><th>parameters</th><th>features</th><th>val. accuracy (1 bar)</th><th>IC (1 bar)</th></tr>
          </thead>
          <tbody>
            {(models.data?.models ?? []).map((m) => (
              <tr key={m.variant}>
                <td>{m.variant}{m.variant === models.data?.live_variant ? " (live)" : ""}</td><td>{m.version}</td><td>{m.weights}</td>
                <td>{m.parameters?.toLocaleString() ?? "–"}</td><td>{m.features}</td>
                <td>{num(m.metrics?.accuracy_1 ?? null)}</td><td>{num(m.metrics?.ic_1 ?? null)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <button onClick={reload}>reload the manifest</button> <span className="muted">{message}</span>
      </Card>
      <ExportForm />
      <ForecastView variants={(models.data?.models ?? []).map((m) => m.variant)} symbols={symbols} />
    </div>
  );
}

function ForecastView({ variants, symbols }: { variants: string[]; symbols: string[] }) {
  const [symbol, setSymbol] = useState("AAPL");
  const [variant, setVariant] = useState("");
  const [at, setAt] = useState("");
  const [forecast, setForecast] = useState<Forecast | null>(null);
  const [error, setError] = useState<string | null>(null);
  const chosenVariant = variant || variants[0] || "hybrid";
  const submit = (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    const query = new URLSearchParams({ symbol, variant: chosenVariant, ...(at ? { at } : {}) });
    getJSON<Forecast>(`forecast?${query}`).then(setForecast).catch((e: Error) => setError(e.message));
  };
  return (
    <Card title="Forecast and attention">
      <form onSubmit={submit} className="form inline">
        <label>symbol
          <select value={symbol} onChange={(e) => setSymbol(e.target.value)} data-testid="forecast-symbol">
            {(symbols.length ? symbols : [symbol]).map((s) => <option key={s}>{s}</option>)}
          </select>
        </label>
        <label>variant
          <select value={chosenVariant} onChange={(e) => setVariant(e.target.value)}>
            {variants.map((v) => <option key={v}>{v}</option>)}
          </select>
        </label>
        <label>bar <input type="date" value={at} onChange={(e) => setAt(e.target.value)} data-testid="forecast-at" /></label>
        <button type="submit" data-testid="show-forecast">forecast</button>
      </form>
      <ErrorLine error={error} />
      {forecast && (
        <div>
          <p>
            {forecast.symbol} after the bar of {forecast.timestamp.slice(0, 10)}, {forecast.variant}{" "}
            {Object.values(forecast.versions).join(", ")}; signal from flat: {num(forecast.signal.position, 2)}
          </p>
          <table className="table" data-testid="forecast-table">
            <thead><tr><th>horizon (bars)</th><th>p(down)</th><th>p(flat)</th><th>p(up)</th><th>expected return</th><th>volatility</th></tr></thead>
            <tbody>
              {forecast.forecasts.map((f) => (
                <tr key={f.horizon}>
                  <td>{f.horizon}</td><td>{pct(f.p_down)}</td><td>{pct(f.p_flat)}</td><td>{pct(f.p_up)}</td>
                  <td>{pct(f.expected_return, 2)}</td><td>{pct(f.volatility, 2)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <h3>Attention over the {forecast.attention.length}-bar window</h3>
          <Heatmap weights={forecast.attention} labels={forecast.window.map((w) => day(w.time))} />
          <LineChart
            testId="forecast-window"
            width={720}
            height={160}
            lines={[{ name: "close", color: "#2962ff", points: forecast.window.map((w, i) => [i + 1, w.close]) }]}
          />
        </div>
      )}
    </Card>
  );
}

function ExportForm() {
  const variants = useVariants();
  const [variant, setVariant] = useState("hybrid");
  const [error, setError] = useState<string | null>(null);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    postJSON("jobs/export", { variant }).catch((e: Error) => setError(e.message));
  };
  return (
    <Card title="Export to ONNX">
      <form onSubmit={submit} className="form inline">
        <label>variant
          <select value={variant} onChange={(e) => setVariant(e.target.value)}>
            {variants.map((v) => <option key={v}>{v}</option>)}
          </select>
        </label>
        <button type="submit">export the newest checkpoint</button>
        <span className="muted">then reload the manifest to serve it</span>
      </form>
      <ErrorLine error={error} />
      <JobList kinds={["export"]} />
    </Card>
  );
}
