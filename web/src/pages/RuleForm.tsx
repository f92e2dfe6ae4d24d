import { useRef, useState, type FormEvent } from "react";
import { api } from "../api";
import { bytes, count } from "../format";
import type { Host, Rule, StorageTarget, WhatIf } from "../models";
import { ErrorNote } from "../components/ErrorNote";

interface Draft {
  name: string;
  priority: string;
  target_id: string;
  enabled: boolean;
  path_globs: string;
  path_regex: string;
  min_days_since_modified: string;
  min_days_since_accessed: string;
  min_size: string;
  max_size: string;
  include_extensions: string;
  exclude_extensions: string;
  candidate_order: "coldest" | "largest";
  max_files_per_run: string;
  max_bytes_per_run: string;
  high_percent: string;
  low_percent: string;
}

function draftOf(rule: Rule | null, targets: StorageTarget[], priority: number): Draft {
  const text = (value: number | null | undefined) => (value === null || value === undefined ? "" : String(value));
  return {
    name: rule?.name ?? "",
    priority: String(rule?.priority ?? priority),
    target_id: rule?.target_id ?? targets[0]?.id ?? "",
    enabled: rule?.enabled ?? true,
    path_globs: (rule?.path_globs ?? []).join("\n"),
    path_regex: rule?.path_regex ?? "",
    min_days_since_modified: text(rule?.min_days_since_modified),
    min_days_since_accessed: text(rule?.min_days_since_accessed),
    min_size: text(rule?.min_size),
    max_size: text(rule?.max_size),
    include_extensions: (rule?.include_extensions ?? []).join(", "),
    exclude_extensions: (rule?.exclude_extensions ?? []).join(", "),
    candidate_order: rule?.candidate_order ?? "coldest",
    max_files_per_run: text(rule?.max_files_per_run),
    max_bytes_per_run: text(rule?.max_bytes_per_run),
    high_percent: text(rule?.watermark?.high_percent),
    low_percent: text(rule?.watermark?.low_percent),
  };
}

/// The rule as the API takes it. A number field left empty is left out; one that is not a number is sent as it
/// is typed, so the API's 400 names the field rather than the form guessing.
function ruleOf(draft: Draft): Record<string, unknown> {
  const number = (text: string) => (text.trim() === "" ? undefined : Number.isNaN(Number(text)) ? text : Number(text));
  const list = (text: string, separator: RegExp) =>
    text.split(separator).map((item) => item.trim().replace(/^\./, "")).filter((item) => item.length > 0);
  const rule: Record<string, unknown> = {
    name: draft.name,
    priority: number(draft.priority),
    target_id: draft.target_id,
    enabled: draft.enabled,
    path_globs: draft.path_globs.split("\n").map((glob) => glob.trim()).filter((glob) => glob.length > 0),
    min_days_since_modified: number(draft.min_days_since_modified),
    min_days_since_accessed: number(draft.min_days_since_accessed),
    min_size: number(draft.min_size),
    max_size: number(draft.max_size),
    include_extensions: list(draft.include_extensions, /[,\s]+/),
    exclude_extensions: list(draft.exclude_extensions, /[,\s]+/),
    candidate_order: draft.candidate_order,
    max_files_per_run: number(draft.max_files_per_run),
    max_bytes_per_run: number(draft.max_bytes_per_run),
  };
  if (draft.path_regex.trim()) rule["path_regex"] = draft.path_regex;
  if (draft.high_percent.trim() || draft.low_percent.trim()) {
    rule["watermark"] = { high_percent: number(draft.high_percent), low_percent: number(draft.low_percent) };
  }
  return rule;
}

/// Creating or editing a rule: the what-if of the rule as typed, computed by the API in a transaction it rolls
/// back, is shown before Save is offered, and any change to the form asks for it again.
export function RuleForm({ rule, targets, hosts, nextPriority, onDone }: {
  rule: Rule | null;
  targets: StorageTarget[];
  hosts: Host[];
  nextPriority: number;
  onDone(): void;
}) {
  const [draft, setDraft] = useState(() => draftOf(rule, targets, nextPriority));
  const [whatIf, setWhatIf] = useState<{ report: WhatIf; ruleID: string } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  // Each edit starts a new revision; a what-if that comes back for an older one is dropped, so Save never rests on
  // the what-if of a rule the admin has since changed.
  const revision = useRef(0);
  const set = <K extends keyof Draft>(key: K, value: Draft[K]) => {
    revision.current += 1;
    setDraft((current) => ({ ...current, [key]: value }));
    setWhatIf(null);
  };
  const send = (dryRun: boolean) => {
    const body = ruleOf(draft);
    const query = dryRun ? { dry_run: "true" } : undefined;
    return rule?.id ? api.put<unknown>(`/api/v1/rules/${rule.id}`, body, query) : api.post<unknown>("/api/v1/rules", body, query);
  };
  const preview = async () => {
    const asked = revision.current;
    setBusy(true);
    setError(null);
    try {
      const answer = (await send(true)) as { rule: Rule; what_if: WhatIf };
      if (asked === revision.current) setWhatIf({ report: answer.what_if, ruleID: answer.rule.id ?? "" });
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  const save = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await send(false);
      onDone();
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  const text = (key: keyof Draft, label: string, placeholder = "") => (
    <label>
      {label}
      <input value={String(draft[key])} placeholder={placeholder} onChange={(event) => set(key, event.target.value as never)}
        data-testid={`rule-${key}`} />
    </label>
  );
  return (
    <form className="panel rule-form" onSubmit={save} data-testid="rule-form">
      <h2>{rule ? `Edit “${rule.name}”` : "New rule"}</h2>
      <div className="grid">
        {text("name", "Name")}
        {text("priority", "Priority (lower runs first)")}
        <label>
          Target
          <select value={draft.target_id} onChange={(event) => set("target_id", event.target.value)} data-testid="rule-target">
            {targets.map((target) => (
              <option key={target.id} value={target.id}>
                {target.name} ({target.kind})
              </option>
            ))}
          </select>
        </label>
        <label className="check">
          <input type="checkbox" checked={draft.enabled} onChange={(event) => set("enabled", event.target.checked)} /> Enabled
        </label>
        <label className="span">
          Path globs, one per line
          <textarea value={draft.path_globs} rows={3} placeholder="/srv/share/projects/**"
            onChange={(event) => set("path_globs", event.target.value)} data-testid="rule-path_globs" />
        </label>
        {text("path_regex", "Path regular expression")}
        {text("min_days_since_modified", "Modified at least … days ago")}
        {text("min_days_since_accessed", "Accessed at least … days ago")}
        {text("min_size", "Minimum size (bytes)")}
        {text("max_size", "Maximum size (bytes)")}
        {text("include_extensions", "Only extensions", "pdf, iso")}
        {text("exclude_extensions", "Never extensions", "db, vmdk")}
        <label>
          Candidates first
          <select value={draft.candidate_order} onChange={(event) => set("candidate_order", event.target.value as Draft["candidate_order"])}>
            <option value="coldest">coldest</option>
            <option value="largest">largest</option>
          </select>
        </label>
        {text("max_files_per_run", "At most … files a run")}
        {text("max_bytes_per_run", "At most … bytes a run")}
        {text("high_percent", "Start above volume use %")}
        {text("low_percent", "Stop at volume use %")}
      </div>
      <ErrorNote error={error} />
      <div className="row">
        <button type="button" onClick={preview} disabled={busy} data-testid="rule-preview">
          Show what-if
        </button>
        <button type="submit" disabled={busy || whatIf === null} data-testid="rule-save"
          title={whatIf === null ? "See the what-if first" : undefined}>
          Save
        </button>
        <button type="button" className="link" onClick={onDone}>
          Cancel
        </button>
      </div>
      {whatIf ? <WhatIfTable whatIf={whatIf.report} ruleID={whatIf.ruleID} hosts={hosts} /> : null}
    </form>
  );
}

/// The rule's line of each host's what-if: the rules before it keep the files they match (first match wins), so
/// what it would take is what is left to it.
function WhatIfTable({ whatIf, ruleID, hosts }: { whatIf: WhatIf; ruleID: string; hosts: Host[] }) {
  const hostname = (id: string) => hosts.find((host) => host.id.toLowerCase() === id.toLowerCase())?.hostname ?? id;
  const rows = whatIf.hosts.flatMap((host) => host.rules.filter((rule) => rule.rule_id === ruleID).map((rule) => ({ host, rule })));
  const planned = rows.reduce((sum, row) => sum + row.rule.files_planned, 0);
  const saved = rows.reduce((sum, row) => sum + row.rule.estimated_space_saved, 0);
  return (
    <div className="whatif" data-testid="what-if" data-files={planned} data-bytes={saved}>
      <h3>What-if: {count(planned)} files, {bytes(saved)} would be tiered now</h3>
      <table>
        <thead>
          <tr>
            <th>Host</th>
            <th className="number">Files evaluated</th>
            <th className="number">Matched</th>
            <th className="number">Planned</th>
            <th className="number">Deferred by caps</th>
            <th className="number">Space saved</th>
            <th className="number">Transfer time</th>
            <th>Largest folders</th>
          </tr>
        </thead>
        <tbody>
          {rows.map(({ host, rule }) => (
            <tr key={host.host_id}>
              <td>{hostname(host.host_id)}</td>
              <td className="number">{count(host.files_evaluated)}</td>
              <td className="number">{count(rule.files_matched)} ({bytes(rule.bytes_matched)})</td>
              <td className="number">{count(rule.files_planned)}</td>
              <td className="number">{count(rule.files_deferred)}</td>
              <td className="number">{bytes(rule.estimated_space_saved)}</td>
              <td className="number">{rule.estimated_transfer_seconds.toFixed(0)} s</td>
              <td className="muted">{rule.top_directories.slice(0, 3).map((directory) => `${directory.path} (${bytes(directory.bytes)})`).join(", ")}</td>
            </tr>
          ))}
          {rows.length === 0 ? (
            <tr>
              <td className="muted">No host has files this rule would select (or the rule is disabled).</td>
            </tr>
          ) : null}
        </tbody>
      </table>
    </div>
  );
}
