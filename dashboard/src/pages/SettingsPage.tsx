// Signal rule, costs and limits (saved on the server, used by backtests and the paper book),
// and the API key (this browser session only).
import { useEffect, useState, type FormEvent } from "react";
import { apiKey, postJSON, setApiKey } from "../api";
import { Card, ErrorLine } from "../components/ui";
import { useApi } from "../hooks";

type Group = Record<string, number>;
interface Settings {
  rule: Group;
  costs: Group;
  limits: Group;
}

const LABELS: Record<string, string> = {
  no_trade_band: "no-trade band (position units)",
  min_hold: "minimum hold (bars)",
  slippage_bps: "slippage per fill (bps)",
  commission: "commission (fraction of notional)",
  max_position: "max |position| per symbol",
  max_gross: "max gross exposure",
  daily_loss_stop: "daily loss stop (fraction, 0 = off)",
};

export function SettingsPage() {
  const saved = useApi<Settings>("settings");
  const [values, setValues] = useState<Settings | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [key, setKey] = useState(apiKey());
  useEffect(() => setValues(saved.data), [saved.data]);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    postJSON<Settings>("settings", values)
      .then(() => setMessage("saved"))
      .catch((e: Error) => setError(e.message));
  };
  const change = (group: keyof Settings, name: string, text: string) =>
    setValues((old) => old && { ...old, [group]: { ...old[group], [name]: Number(text) } });

  return (
    <div className="columns">
      <Card title="Signal rule, costs, limits">
        {values && (
          <form onSubmit={submit} className="form">
            {(["rule", "costs", "limits"] as const).map((group) => (
              <fieldset key={group}>
                <legend>{group}</legend>
                {Object.entries(values[group]).map(([name, value]) => (
                  <label key={name}>
                    {LABELS[name] ?? name}
                    <input type="number" step="any" value={value} data-testid={`setting-${name}`} onChange={(e) => change(group, name, e.target.value)} />
                  </label>
                ))}
              </fieldset>
            ))}
            <button type="submit">save</button> <span className="muted">{message}</span>
            <ErrorLine error={error} />
            <p className="muted">
              Backtests started here use these; the paper portfolio marks its history with the
              costs and limits. The live service's own rule is set where it starts (TRADECAST_*).
            </p>
          </form>
        )}
      </Card>
      <Card title="API key">
        <form className="form" onSubmit={(e) => { e.preventDefault(); setApiKey(key); setMessage("key kept for this session"); }}>
          <label>X-API-Key <input type="password" value={key} onChange={(e) => setKey(e.target.value)} data-testid="api-key" /></label>
          <button type="submit">use for this session</button>
          <p className="muted">Kept in this tab's session storage only; sent with jobs and changes.</p>
        </form>
      </Card>
    </div>
  );
}
