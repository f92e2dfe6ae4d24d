import { useState, type FormEvent } from "react";
import { api } from "../api";
import { bytes } from "../format";
import type { StorageTarget } from "../models";
import { useSession } from "../session";
import { ErrorNote, Loading } from "../components/ErrorNote";
import { useLoad } from "../components/useLoad";

/// Tier-2 storage targets. Credentials are typed into the settings like any other key; the API keeps them
/// encrypted and only ever answers with their names.
export function Targets() {
  const session = useSession();
  const targets = useLoad(() => api.get<{ storage_targets: StorageTarget[] }>("/api/v1/storage-targets"), []);
  const [editing, setEditing] = useState<StorageTarget | "new" | null>(null);
  const [error, setError] = useState<unknown>(null);
  const manage = session.can("targets.manage");
  const remove = async (target: StorageTarget) => {
    if (!window.confirm(`Delete target “${target.name}”?`)) return;
    setError(null);
    try {
      await api.delete(`/api/v1/storage-targets/${target.id}`);
      targets.reload();
    } catch (failure) {
      setError(failure);
    }
  };
  return (
    <div>
      <h1>Storage targets</h1>
      <ErrorNote error={targets.error ?? error} />
      {manage && editing === null ? (
        <button type="button" onClick={() => setEditing("new")} data-testid="new-target">
          New target
        </button>
      ) : null}
      {editing !== null ? (
        <TargetForm target={editing === "new" ? null : editing} onDone={() => {
          setEditing(null);
          targets.reload();
        }} />
      ) : null}
      {targets.loading && !targets.data ? <Loading what="targets" /> : null}
      <table data-testid="targets">
        <thead>
          <tr>
            <th>Name</th>
            <th>Kind</th>
            <th>Location</th>
            <th>Settings</th>
            <th>Credentials set</th>
            <th className="number">Bandwidth</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {(targets.data?.storage_targets ?? []).map((target) => (
            <tr key={target.id} data-name={target.name}>
              <td>{target.name}</td>
              <td>{target.kind}</td>
              <td><code>{target.location}</code></td>
              <td className="muted">{Object.entries(target.settings).map(([key, value]) => `${key}=${value}`).join(", ")}</td>
              <td>{(target.secrets ?? []).join(", ") || "—"}</td>
              <td className="number">{target.bandwidth_bytes_per_second ? `${bytes(target.bandwidth_bytes_per_second)}/s` : "—"}</td>
              <td className="actions">
                {manage ? (
                  <>
                    <button type="button" onClick={() => setEditing(target)}>Edit</button>
                    <button type="button" className="danger" onClick={() => remove(target)}>Delete</button>
                  </>
                ) : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function TargetForm({ target, onDone }: { target: StorageTarget | null; onDone(): void }) {
  const [name, setName] = useState(target?.name ?? "");
  const [kind, setKind] = useState(target?.kind ?? "filesystem");
  const [location, setLocation] = useState(target?.location ?? "");
  const [settings, setSettings] = useState(
    Object.entries(target?.settings ?? {}).map(([key, value]) => `${key}=${value}`).join("\n"),
  );
  const [bandwidth, setBandwidth] = useState(target?.bandwidth_bytes_per_second ? String(target.bandwidth_bytes_per_second) : "");
  const [error, setError] = useState<unknown>(null);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    const pairs: Record<string, string> = {};
    for (const line of settings.split("\n")) {
      const at = line.indexOf("=");
      if (line.trim() === "") continue;
      if (at <= 0) {
        setError(new Error(`settings: “${line}” is not key=value`));
        return;
      }
      pairs[line.slice(0, at).trim()] = line.slice(at + 1).trim();
    }
    const body: Record<string, unknown> = { name, kind, location, settings: pairs };
    if (bandwidth.trim()) body["bandwidth_bytes_per_second"] = Number(bandwidth);
    try {
      if (target) await api.put(`/api/v1/storage-targets/${target.id}`, body);
      else await api.post("/api/v1/storage-targets", body);
      onDone();
    } catch (failure) {
      setError(failure);
    }
  };
  return (
    <form className="panel" onSubmit={submit} data-testid="target-form">
      <h2>{target ? `Edit “${target.name}”` : "New target"}</h2>
      <div className="grid">
        <label>Name<input value={name} onChange={(event) => setName(event.target.value)} required /></label>
        <label>
          Kind
          <select value={kind} onChange={(event) => setKind(event.target.value)}>
            <option value="filesystem">mounted folder</option>
            <option value="smb">SMB share</option>
            <option value="s3">S3</option>
            <option value="azure_blob">Azure Blob</option>
          </select>
        </label>
        <label className="span">Location<input value={location} onChange={(event) => setLocation(event.target.value)} required /></label>
        <label className="span">
          Settings, key=value per line (credentials too; they are stored encrypted and never shown)
          <textarea rows={4} value={settings} onChange={(event) => setSettings(event.target.value)} />
        </label>
        <label>Bandwidth (bytes/s)<input value={bandwidth} onChange={(event) => setBandwidth(event.target.value)} /></label>
      </div>
      <ErrorNote error={error} />
      <div className="row">
        <button type="submit">Save</button>
        <button type="button" className="link" onClick={onDone}>Cancel</button>
      </div>
    </form>
  );
}
