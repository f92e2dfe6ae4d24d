import { useState } from "react";
import { api } from "../api";
import { time } from "../format";
import type { Finding, StorageTarget } from "../models";
import { useRoute } from "../route";
import { useSession } from "../session";
import { ErrorNote, Loading } from "../components/ErrorNote";
import { useLoad } from "../components/useLoad";

const kinds = ["", "missing_copy", "orphan", "size_drift", "hash_drift", "stub_missing", "stub_differs", "undescribed_copy"];
const states = ["open", "accepted", "repaired", "resolved", ""];

/// What the sanitizer found when it compared the inventory, the stubs and the tier-2 stores; an admin
/// accepts a finding or starts a new reconciliation of a target.
export function Findings() {
  const session = useSession();
  const route = useRoute();
  const [kind, setKind] = useState(route.query.get("kind") ?? "");
  const [state, setState] = useState("open");
  const [pages, setPages] = useState<number[]>([]);
  const [message, setMessage] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const findings = useLoad(
    () => api.get<{ findings: Finding[]; next_after_id?: number | null }>("/api/v1/findings",
      { kind, state, limit: 100, after_id: pages[pages.length - 1] }),
    [kind, state, pages],
  );
  const targets = useLoad(() => api.get<{ storage_targets: StorageTarget[] }>("/api/v1/storage-targets"), []);
  const manage = session.can("targets.manage");
  const act = async (what: () => Promise<string>) => {
    setError(null);
    setMessage(null);
    try {
      setMessage(await what());
      findings.reload();
    } catch (failure) {
      setError(failure);
    }
  };
  return (
    <div>
      <h1>Findings</h1>
      <div className="row">
        <label>Kind <select value={kind} onChange={(event) => { setKind(event.target.value); setPages([]); }}>
          {kinds.map((value) => <option key={value} value={value}>{value || "any"}</option>)}
        </select></label>
        <label>State <select value={state} onChange={(event) => { setState(event.target.value); setPages([]); }}>
          {states.map((value) => <option key={value} value={value}>{value || "any"}</option>)}
        </select></label>
        {manage ? (targets.data?.storage_targets ?? []).map((target) => (
          <button key={target.id} type="button" onClick={() => act(async () => {
            await api.post("/api/v1/reconciliations", { target_id: target.id });
            return `Reconciliation of ${target.name} started.`;
          })}>Reconcile {target.name}</button>
        )) : null}
      </div>
      {message ? <p className="notice">{message}</p> : null}
      <ErrorNote error={findings.error ?? error} />
      {findings.loading && !findings.data ? <Loading what="findings" /> : null}
      <table data-testid="findings">
        <thead>
          <tr><th>Kind</th><th>Where</th><th>Detail</th><th>State</th><th>First seen</th><th>Last seen</th><th /></tr>
        </thead>
        <tbody>
          {(findings.data?.findings ?? []).map((finding) => (
            <tr key={finding.id}>
              <td>{finding.kind.replace(/_/g, " ")}</td>
              <td><code>{finding.file_path ?? finding.location}</code></td>
              <td>{finding.detail}</td>
              <td><span className={`state state-${finding.state}`}>{finding.state}</span></td>
              <td>{time(finding.first_seen)}</td>
              <td>{time(finding.last_seen)}</td>
              <td>
                {manage && finding.state === "open" ? (
                  <button type="button" onClick={() => act(async () => {
                    await api.patch(`/api/v1/findings/${finding.id}`, { state: "accepted" });
                    return `Finding ${finding.id} accepted: it is known and left as it is.`;
                  })}>Accept</button>
                ) : null}
              </td>
            </tr>
          ))}
          {findings.data && findings.data.findings.length === 0 ? <tr><td className="muted">Nothing found.</td></tr> : null}
        </tbody>
      </table>
      {findings.data?.next_after_id ? (
        <button type="button" onClick={() => setPages([...pages, findings.data!.next_after_id!])}>More</button>
      ) : null}
    </div>
  );
}
