import { useState } from "react";
import { api } from "../api";
import { time } from "../format";
import type { AuditEntry } from "../models";
import { ErrorNote, Loading } from "../components/ErrorNote";
import { useLoad } from "../components/useLoad";

/// The tenant's audit trail, newest first, filtered by action and actor, and exported as JSON lines exactly as
/// the API gives them to a SIEM.
export function Audit() {
  const [action, setAction] = useState("");
  const [actor, setActor] = useState("");
  const [filter, setFilter] = useState({ action: "", actor: "" });
  const [before, setBefore] = useState<number[]>([]);
  const [error, setError] = useState<unknown>(null);
  const query = { action: filter.action, actor: filter.actor, limit: 100, before_seq: before[before.length - 1] };
  const entries = useLoad(() => api.get<{ entries: AuditEntry[] }>("/api/v1/audit", query).then((answer) => answer.entries),
    [filter, before]);
  const exportLines = async () => {
    setError(null);
    try {
      const text = await api.text("/api/v1/audit", { ...query, before_seq: undefined, limit: 10000, format: "jsonl" });
      const link = document.createElement("a");
      link.href = URL.createObjectURL(new Blob([text], { type: "application/x-ndjson" }));
      link.download = `alto-audit-${new Date().toISOString().slice(0, 10)}.jsonl`;
      link.click();
      URL.revokeObjectURL(link.href);
    } catch (failure) {
      setError(failure);
    }
  };
  const last = entries.data?.[entries.data.length - 1];
  return (
    <div>
      <h1>Audit trail</h1>
      <form className="row" onSubmit={(event) => { event.preventDefault(); setBefore([]); setFilter({ action, actor }); }}>
        <input placeholder="action, e.g. rule. or user.create" value={action} onChange={(event) => setAction(event.target.value)}
          aria-label="action" data-testid="audit-action" />
        <input placeholder="actor" value={actor} onChange={(event) => setActor(event.target.value)} aria-label="actor"
          data-testid="audit-actor" />
        <button type="submit" data-testid="audit-filter">Filter</button>
        <button type="button" onClick={exportLines} data-testid="audit-export">Export JSON lines</button>
      </form>
      <ErrorNote error={entries.error ?? error} />
      {entries.loading && !entries.data ? <Loading what="the audit trail" /> : null}
      <table data-testid="audit">
        <thead>
          <tr><th className="number">#</th><th>When</th><th>Actor</th><th>Action</th><th>Target</th><th>Result</th><th>Details</th></tr>
        </thead>
        <tbody>
          {(entries.data ?? []).map((entry, index) => (
            <tr key={entry.seq ?? `row-${index}`} data-action={entry.action}>
              <td className="number">{entry.seq ?? ""}</td>
              <td>{time(entry.at)}</td>
              <td>{entry.actor}</td>
              <td>{entry.action}</td>
              <td><code>{entry.target}</code></td>
              <td><span className={`state state-${entry.result}`}>{entry.result}</span></td>
              <td className="muted">{Object.entries(entry.details).map(([key, value]) => `${key}=${value}`).join(", ")}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <div className="row">
        {before.length > 0 ? <button type="button" onClick={() => setBefore(before.slice(0, -1))}>Newer</button> : null}
        {last?.seq && entries.data?.length === 100 ? <button type="button" onClick={() => setBefore([...before, last.seq!])}>Older</button> : null}
      </div>
    </div>
  );
}
