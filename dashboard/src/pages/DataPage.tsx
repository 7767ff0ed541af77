// The bar store: what is stored, its quality report, CSV import and fetch (jobs).
import { useMemo, useState, type FormEvent } from "react";
import { postJSON } from "../api";
import { JobList } from "../components/Jobs";
import { TimeChart, type Candle } from "../components/TimeChart";
import { Card, ErrorLine } from "../components/ui";
import { useApi } from "../hooks";

interface Stored {
  symbol: string;
  timeframe: string;
  bars: number;
  first: string;
  last: string;
}

interface Quality {
  ok: boolean;
  text: string;
  counts: Record<string, number>;
}

export function DataPage() {
  const store = useApi<Stored[]>("store");
  const [chosen, setChosen] = useState<Stored | null>(null);
  const path = chosen ? `store/${chosen.timeframe}/${encodeURIComponent(chosen.symbol)}` : null;
  const quality = useApi<Quality>(path && `${path}/quality`);
  const bars = useApi<Candle[]>(path && `${path}/candles`);
  const candles = useMemo(() => [{ kind: "candles" as const, data: bars.data ?? [] }], [bars.data]);
  return (
    <div>
      <Card title="Stored bars">
        <ErrorLine error={store.error} />
        <table className="table" data-testid="store-table">
          <thead>
            <tr><th>symbol</th><th>timeframe</th><th>bars</th><th>first</th><th>last</th></tr>
          </thead>
          <tbody>
            {(store.data ?? []).map((row) => (
              <tr
                key={`${row.timeframe}/${row.symbol}`}
                className={row === chosen ? "selected clickable" : "clickable"}
                onClick={() => setChosen(row)}
              >
                <td>{row.symbol}</td><td>{row.timeframe}</td><td>{row.bars}</td>
                <td>{row.first.slice(0, 10)}</td><td>{row.last.slice(0, 10)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Card>
      {chosen && (
        <Card title={`Quality report: ${chosen.symbol} ${chosen.timeframe}`}>
          <ErrorLine error={quality.error} />
          <pre className="log" data-testid="quality-report">{quality.data?.text ?? "checking…"}</pre>
          {bars.data && <TimeChart series={candles} testId="store-candles" />}
        </Card>
      )}
      <div className="columns">
        <ImportForm onDone={store.reload} />
        <FetchForm />
      </div>
      <Card title="Data jobs">
        <JobList kinds={["import", "fetch"]} />
      </Card>
    </div>
  );
}

function ImportForm({ onDone }: { onDone: () => void }) {
  const [file, setFile] = useState<File | null>(null);
  const [symbol, setSymbol] = useState("");
  const [error, setError] = useState<string | null>(null);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!file) return setError("choose a CSV file");
    setError(null);
    const content = await file.text();
    const name = symbol || file.name.replace(/\.csv(\.gz)?$/i, "");
    postJSON("jobs/import", { symbol: name, content })
      .then(() => setTimeout(onDone, 3000))
      .catch((e: Error) => setError(e.message));
  };
  return (
    <Card title="Import a CSV file">
      <form onSubmit={submit} className="form">
        <input type="file" accept=".csv" onChange={(e) => setFile(e.target.files?.[0] ?? null)} />
        <label>symbol <input value={symbol} placeholder="from the file name" onChange={(e) => setSymbol(e.target.value)} /></label>
        <button type="submit">import</button>
        <ErrorLine error={error} />
      </form>
    </Card>
  );
}

function FetchForm() {
  const [source, setSource] = useState("yfinance");
  const [symbols, setSymbols] = useState("AAPL");
  const [start, setStart] = useState("2024-01-01");
  const [error, setError] = useState<string | null>(null);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    postJSON("jobs/fetch", { source, symbols, start }).catch((e: Error) => setError(e.message));
  };
  return (
    <Card title="Fetch from a source">
      <form onSubmit={submit} className="form">
        <label>source
          <select value={source} onChange={(e) => setSource(e.target.value)}>
            <option>yfinance</option><option>alpaca</option><option>binance</option>
          </select>
        </label>
        <label>symbols <input value={symbols} onChange={(e) => setSymbols(e.target.value)} /></label>
        <label>start <input type="date" value={start} onChange={(e) => setStart(e.target.value)} /></label>
        <button type="submit">fetch</button>
        <p className="muted">Vendor keys stay on the server (its environment); they are never sent here.</p>
        <ErrorLine error={error} />
      </form>
    </Card>
  );
}
