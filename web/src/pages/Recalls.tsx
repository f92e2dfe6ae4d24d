import { useState, type FormEvent } from "react";
import { api } from "../api";
import type { Host, Rule } from "../models";
import { navigate, useRoute } from "../route";
import { useSession } from "../session";
import { ErrorNote } from "../components/ErrorNote";
import { JobList, JobView } from "../components/JobList";
import { useLoad } from "../components/useLoad";

/// Recalls, and for those who may, bringing files back: by their paths on a host, or every file a rule tiered.
export function Recalls() {
  const route = useRoute();
  const session = useSession();
  const id = route.parts[0];
  if (id) return <JobView kind="recalls" id={id} />;
  return (
    <div>
      <h1>Recalls</h1>
      {session.can("recalls.run") ? <RecallForm /> : null}
      <JobList kind="recalls" hostID={route.query.get("host_id")} state={route.query.get("state")} />
    </div>
  );
}

function RecallForm() {
  const hosts = useLoad(() => api.get<{ hosts: Host[] }>("/api/v1/hosts"), []);
  const rules = useLoad(() => api.get<{ rules: Rule[] }>("/api/v1/rules"), []);
  const [hostID, setHostID] = useState("");
  const [by, setBy] = useState<"paths" | "rule">("paths");
  const [paths, setPaths] = useState("");
  const [ruleID, setRuleID] = useState("");
  const [error, setError] = useState<unknown>(null);
  const host = hostID || hosts.data?.hosts[0]?.id || "";
  const rule = ruleID || rules.data?.rules[0]?.id || "";
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    const body: Record<string, unknown> = { host_id: host };
    if (by === "paths") body["paths"] = paths.split("\n").map((path) => path.trim()).filter((path) => path.length > 0);
    else body["rule_id"] = rule;
    try {
      const answer = await api.post<{ recalls: { recall_id: string }[] }>("/api/v1/recalls", body);
      const first = answer.recalls[0];
      if (first) navigate("recalls", first.recall_id);
    } catch (failure) {
      setError(failure);
    }
  };
  return (
    <form className="panel" onSubmit={submit} data-testid="recall-form">
      <h2>Recall files</h2>
      <div className="grid">
        <label>
          Host
          <select value={host} onChange={(event) => setHostID(event.target.value)} data-testid="recall-host">
            {(hosts.data?.hosts ?? []).map((candidate) => (
              <option key={candidate.id} value={candidate.id}>{candidate.hostname}</option>
            ))}
          </select>
        </label>
        <label>
          By
          <select value={by} onChange={(event) => setBy(event.target.value as "paths" | "rule")} data-testid="recall-by">
            <option value="paths">paths</option>
            <option value="rule">rule</option>
          </select>
        </label>
        {by === "paths" ? (
          <label className="span">
            Paths, one per line
            <textarea rows={3} value={paths} onChange={(event) => setPaths(event.target.value)} data-testid="recall-paths" />
          </label>
        ) : (
          <label>
            Every file tiered by
            <select value={rule} onChange={(event) => setRuleID(event.target.value)} data-testid="recall-rule">
              {(rules.data?.rules ?? []).map((candidate) => (
                <option key={candidate.id} value={candidate.id}>{candidate.name}</option>
              ))}
            </select>
          </label>
        )}
      </div>
      <ErrorNote error={error ?? hosts.error} />
      <button type="submit" disabled={!host} data-testid="recall-submit">Recall</button>
    </form>
  );
}
