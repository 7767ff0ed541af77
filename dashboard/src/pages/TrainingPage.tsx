// Start a training run and watch its loss curves arrive (Server-Sent Events); past runs, folds.
import { useEffect, useState, type FormEvent } from "react";
import { eventsURL, getJSON, postJSON } from "../api";
import { JobRow, type Job } from "../components/Jobs";
import { LineChart } from "../components/LineChart";
import { Card, ErrorLine } from "../components/ui";
import { latestValidation, lossCurves, num, parseOverrides, type MetricLine } from "../format";
import { useApi, type Overview } from "../hooks";

interface RunRow {
  variant: string;
  run: string;
  finished: boolean;
  profile: string | null;
  mode: string | null;
  metrics: Record<string, number | null> | null;
}

interface RunDetail {
  variant: string;
  run: string;
  folds: Record<string, number | string>[];
  metrics: MetricLine[];
}

/** metrics.jsonl of a run as it grows: EventSource on the run's events, closed at `end`. */
export function useRunMetrics(run: { variant: string; run: string } | null): MetricLine[] {
  const [lines, setLines] = useState<MetricLine[]>([]);
  useEffect(() => {
    setLines([]);
    if (!run) return;
    const source = new EventSource(eventsURL(`runs/${run.variant}/${run.run}/events`));
    source.onopen = () => setLines([]); // a reconnect sends the file from its start again
    source.onmessage = (event) => setLines((old) => [...old, JSON.parse(event.data)]);
    source.addEventListener("end", () => source.close());
    return () => source.close();
  }, [run?.variant, run?.run]);
  return lines;
}

export function TrainingPage() {
  const overview = useApi<Overview>("overview");
  const runs = useApi<RunRow[]>("runs", 5000);
  const [job, setJob] = useState<Job | null>(null);
  const [watched, setWatched] = useState<{ variant: string; run: string } | null>(null);
  const [detail, setDetail] = useState<RunDetail | null>(null);
  const lines = useRunMetrics(watched);

  useEffect(() => {
    if (!job || !["running"].includes(job.state)) return;
    const timer = setTimeout(
      () =>
        getJSON<Job>(`jobs/${job.id}`).then((fresh) => {
          setJob(fresh);
          if (fresh.result?.run) setWatched({ variant: fresh.result.variant, run: fresh.result.run });
        }),
      800,
    );
    return () => clearTimeout(timer);
  }, [job]);

  useEffect(() => {
    if (!watched) return;
    getJSON<RunDetail>(`runs/${watched.variant}/${watched.run}`).then(setDetail).catch(() => null);
  }, [watched, job?.state]);

  const curves = lossCurves(lines);
  return (
    <div>
      <div className="columns">
        <StartForm overview={overview.data} onStarted={(started) => { setJob(started); setWatched(null); }} />
        <Card title={watched ? `Run ${watched.variant}/${watched.run}` : "Run"}>
          {job && <JobRow job={job} />}
          <LineChart
            testId="loss-chart"
            lines={[
              { name: "train loss", color: "#2962ff", points: curves.train },
              { name: "validation loss", color: "#e65100", points: curves.validation },
            ]}
          />
          <table className="table" data-testid="validation-metrics">
            <tbody>
              {latestValidation(lines).map(([name, value]) => (
                <tr key={name}><td>{name}</td><td>{num(value)}</td></tr>
              ))}
            </tbody>
          </table>
        </Card>
      </div>
      {detail && detail.folds.length > 0 && (
        <Card title="Walk-forward folds (out of sample)">
          <FoldTable folds={detail.folds} />
        </Card>
      )}
      <Card title="Past runs">
        <table className="table" data-testid="runs-table">
          <thead>
            <tr><th>variant</th><th>run</th><th>profile</th><th>mode</th><th>accuracy (1 bar)</th><th>IC (1 bar)</th><th>state</th></tr>
          </thead>
          <tbody>
            {(runs.data ?? []).map((row) => (
              <tr key={`${row.variant}/${row.run}`} className="clickable" onClick={() => setWatched({ variant: row.variant, run: row.run })}>
                <td>{row.variant}</td><td>{row.run}</td><td>{row.profile ?? "–"}</td><td>{row.mode ?? "–"}</td>
                <td>{num(row.metrics?.accuracy_1 ?? null)}</td><td>{num(row.metrics?.ic_1 ?? null)}</td>
                <td>{row.finished ? "finished" : "training"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Card>
    </div>
  );
}

function FoldTable({ folds }: { folds: Record<string, number | string>[] }) {
  const columns = ["fold", "model", "rows", "accuracy_1", "balanced_accuracy_1", "ic_1", "accuracy_24", "ic_24"];
  return (
    <table className="table" data-testid="fold-table">
      <thead><tr>{columns.map((c) => <th key={c}>{c}</th>)}</tr></thead>
      <tbody>
        {folds.map((row, index) => (
          <tr key={index}>
            {columns.map((c) => (
              <td key={c}>{typeof row[c] === "number" && c !== "fold" ? num(row[c] as number) : String(row[c] ?? "–")}</td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function StartForm({ overview, onStarted }: { overview: Overview | null; onStarted: (job: Job) => void }) {
  const [variant, setVariant] = useState("simplex");
  const [profile, setProfile] = useState("tiny");
  const [walkForward, setWalkForward] = useState(false);
  const [overrides, setOverrides] = useState("");
  const [error, setError] = useState<string | null>(null);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    postJSON<Job>("jobs/train", { variant, profile, walk_forward: walkForward, overrides: parseOverrides(overrides) })
      .then(onStarted)
      .catch((e: Error) => setError(e.message));
  };
  return (
    <Card title="Train">
      <form onSubmit={submit} className="form">
        <label>variant
          <select value={variant} onChange={(e) => setVariant(e.target.value)} data-testid="train-variant">
            {(overview?.variants ?? [variant]).map((v) => <option key={v}>{v}</option>)}
          </select>
        </label>
        <label>profile
          <select value={profile} onChange={(e) => setProfile(e.target.value)} data-testid="train-profile">
            {(overview?.profiles ?? [profile]).map((p) => <option key={p}>{p}</option>)}
          </select>
        </label>
        <label><input type="checkbox" checked={walkForward} onChange={(e) => setWalkForward(e.target.checked)} /> walk-forward</label>
        <label>overrides (name=value, one a line)
          <textarea rows={3} value={overrides} onChange={(e) => setOverrides(e.target.value)} placeholder="optim.max_epochs=5" />
        </label>
        <button type="submit" data-testid="start-training">start training</button>
        <ErrorLine error={error} />
      </form>
    </Card>
  );
}
