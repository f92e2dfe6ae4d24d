import { useState } from "react";
import { api } from "../api";
import { bytes, count } from "../format";
import type { Explanation, Host, Rule, StorageTarget } from "../models";
import { useSession } from "../session";
import { ErrorNote, Loading } from "../components/ErrorNote";
import { useLoad } from "../components/useLoad";
import { RuleForm } from "./RuleForm";

/// The tenant's rules in the order they are evaluated (first match wins); rule managers create and edit them with
/// the what-if shown before saving, and anyone may ask why a path is or is not tiered.
export function Rules() {
  const session = useSession();
  const rules = useLoad(() => api.get<{ rules: Rule[] }>("/api/v1/rules"), []);
  const targets = useLoad(() => api.get<{ storage_targets: StorageTarget[] }>("/api/v1/storage-targets"), []);
  const hosts = useLoad(() => api.get<{ hosts: Host[] }>("/api/v1/hosts").then((answer) => answer.hosts), []);
  const [editing, setEditing] = useState<Rule | "new" | null>(null);
  const [error, setError] = useState<unknown>(null);
  const targetName = (id: string) => targets.data?.storage_targets.find((target) => target.id === id)?.name ?? id;
  const manage = session.can("rules.manage");
  const change = async (what: () => Promise<unknown>) => {
    setError(null);
    try {
      await what();
      rules.reload();
    } catch (failure) {
      setError(failure);
    }
  };
  const sorted = [...(rules.data?.rules ?? [])].sort((a, b) => a.priority - b.priority);
  return (
    <div>
      <h1>Rules</h1>
      <ErrorNote error={rules.error ?? error} />
      {manage && editing === null ? (
        <button type="button" onClick={() => setEditing("new")} data-testid="new-rule">
          New rule
        </button>
      ) : null}
      {editing !== null && targets.data ? (
        <RuleForm
          rule={editing === "new" ? null : editing}
          targets={targets.data.storage_targets}
          hosts={hosts.data ?? []}
          nextPriority={sorted.length ? sorted[sorted.length - 1]!.priority + 10 : 10}
          onDone={() => {
            setEditing(null);
            rules.reload();
          }}
        />
      ) : null}
      {rules.loading && !rules.data ? <Loading what="rules" /> : null}
      <table data-testid="rules">
        <thead>
          <tr>
            <th className="number">Priority</th>
            <th>Name</th>
            <th>State</th>
            <th>Target</th>
            <th>Selects</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {sorted.map((rule) => (
            <tr key={rule.id} data-name={rule.name}>
              <td className="number">{rule.priority}</td>
              <td>{rule.name}</td>
              <td>
                <span className={`state state-${rule.enabled === false ? "disabled" : "enabled"}`}>
                  {rule.enabled === false ? "disabled" : "enabled"}
                </span>
              </td>
              <td>{targetName(rule.target_id)}</td>
              <td className="muted">{describe(rule)}</td>
              <td className="actions">
                {manage ? (
                  <>
                    <button type="button" onClick={() => setEditing(rule)} data-testid="edit-rule">
                      Edit
                    </button>
                    <button type="button"
                      onClick={() => change(() => api.post(`/api/v1/rules/${rule.id}/${rule.enabled === false ? "enable" : "disable"}`))}>
                      {rule.enabled === false ? "Enable" : "Disable"}
                    </button>
                    <button type="button" className="danger"
                      onClick={() => window.confirm(`Delete rule “${rule.name}”?`) && change(() => api.delete(`/api/v1/rules/${rule.id}`))}>
                      Delete
                    </button>
                  </>
                ) : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <ExplainPath hosts={hosts.data ?? []} />
    </div>
  );
}

function describe(rule: Rule): string {
  const parts: string[] = [];
  if (rule.path_globs?.length) parts.push(`paths ${rule.path_globs.join(", ")}`);
  if (rule.path_regex) parts.push(`regex ${rule.path_regex}`);
  if (rule.min_days_since_modified) parts.push(`modified ≥ ${rule.min_days_since_modified} d ago`);
  if (rule.min_days_since_accessed) parts.push(`accessed ≥ ${rule.min_days_since_accessed} d ago`);
  if (rule.min_size) parts.push(`≥ ${bytes(rule.min_size)}`);
  if (rule.max_size) parts.push(`≤ ${bytes(rule.max_size)}`);
  if (rule.include_extensions?.length) parts.push(`only .${rule.include_extensions.join(", .")}`);
  if (rule.exclude_extensions?.length) parts.push(`not .${rule.exclude_extensions.join(", .")}`);
  if (rule.watermark) parts.push(`above ${rule.watermark.high_percent} % until ${rule.watermark.low_percent} %`);
  return parts.join("; ") || "every file";
}

function ExplainPath({ hosts }: { hosts: Host[] }) {
  const [hostID, setHostID] = useState("");
  const [path, setPath] = useState("");
  const [answer, setAnswer] = useState<Explanation | null>(null);
  const [error, setError] = useState<unknown>(null);
  const chosen = hostID || hosts[0]?.id || "";
  const explain = async () => {
    setError(null);
    setAnswer(null);
    try {
      setAnswer(await api.post<Explanation>("/api/v1/plans/explain", { host_id: chosen, file_path: path }));
    } catch (failure) {
      setError(failure);
    }
  };
  return (
    <section className="panel" data-testid="explain">
      <h2>Explain a path</h2>
      <div className="row">
        <select value={chosen} onChange={(event) => setHostID(event.target.value)} aria-label="host">
          {hosts.map((host) => (
            <option key={host.id} value={host.id}>
              {host.hostname}
            </option>
          ))}
        </select>
        <input className="wide" placeholder="/srv/share/file.pdf" value={path} onChange={(event) => setPath(event.target.value)}
          aria-label="path" data-testid="explain-path" />
        <button type="button" onClick={explain} disabled={!chosen || !path} data-testid="explain-submit">
          Explain
        </button>
      </div>
      <ErrorNote error={error} />
      {answer ? (
        <table data-testid="explanation">
          <tbody>
            {answer.rules.map((verdict) => (
              <tr key={verdict.rule_id} className={verdict.outcome}>
                <td className="number">{verdict.priority}</td>
                <td>{verdict.name}</td>
                <td>{verdict.outcome.replace("_", " ")}</td>
                <td>{verdict.failures.map((failure) => `${failure.criterion}: ${failure.reason}`).join("; ")}</td>
              </tr>
            ))}
            {answer.rules.length === 0 ? (
              <tr>
                <td className="muted">No rules.</td>
              </tr>
            ) : null}
          </tbody>
        </table>
      ) : null}
      {answer ? <p>{answer.matched_rule_id ? "A rule selects this file." : `No rule selects this file (${count(answer.rules.length)} asked).`}</p> : null}
    </section>
  );
}
