// The jobs table: progress, log tail, cancel, and a failed job's error line.
import { useState } from "react";
import { postJSON } from "../api";
import { useApi } from "../hooks";
import { ErrorLine } from "./ui";

export interface Job {
  id: string;
  kind: string;
  summary: string;
  state: string;
  progress: number | null;
  log_tail: string[];
  error: string | null;
  result: Record<string, string> | null;
}

export function JobRow({ job, onChange }: { job: Job; onChange?: () => void }) {
  const [open, setOpen] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const cancel = () =>
    postJSON(`jobs/${job.id}/cancel`)
      .then(onChange)
      .catch((e: Error) => setError(e.message));
  return (
    <div className={`job job-${job.state}`} data-testid="job" data-state={job.state}>
      <div className="job-head">
        <span className="job-state">{job.state}</span>
        <span>{job.summary}</span>
        <progress max={1} value={job.progress ?? 0} />
        <span className="muted">{job.id}</span>
        <button onClick={() => setOpen(!open)}>{open ? "hide log" : "log"}</button>
        {job.state === "running" && <button onClick={cancel}>cancel</button>}
      </div>
      <ErrorLine error={job.error ?? error} />
      {open && <pre className="log">{job.log_tail.join("\n")}</pre>}
    </div>
  );
}

export function JobList({ kinds }: { kinds: string[] }) {
  const { data, reload } = useApi<Job[]>("jobs", 1500);
  const shown = (data ?? []).filter((job) => kinds.includes(job.kind)).slice(0, 8);
  if (!shown.length) return <p className="muted">No jobs yet.</p>;
  return (
    <div>
      {shown.map((job) => (
        <JobRow key={job.id} job={job} onChange={reload} />
      ))}
    </div>
  );
}
