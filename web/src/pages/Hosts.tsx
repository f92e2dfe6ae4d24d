import { useState } from "react";
import { api } from "../api";
import { ago, bytes, count, percent, time } from "../format";
import type { Host, Rule } from "../models";
import { href } from "../route";
import { useSession } from "../session";
import { ErrorNote, Loading } from "../components/ErrorNote";
import { useLoad } from "../components/useLoad";

/// Each agent online or silent, its version and last heartbeat, its volumes against the rules' watermarks, and
/// its last scan; an operator asks for a plan, an admin rotates the agent's token.
export function Hosts() {
  const session = useSession();
  const hosts = useLoad(() => api.get<{ hosts: Host[] }>("/api/v1/hosts"), []);
  const rules = useLoad(() => api.get<{ rules: Rule[] }>("/api/v1/rules"), []);
  const [message, setMessage] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const watermarks = (rules.data?.rules ?? []).filter((rule) => rule.enabled !== false && rule.watermark).map((rule) => rule.watermark!);
  const high = watermarks.length ? Math.min(...watermarks.map((mark) => mark.high_percent)) : null;
  const act = async (what: () => Promise<string>) => {
    setError(null);
    setMessage(null);
    try {
      setMessage(await what());
      hosts.reload();
    } catch (failure) {
      setError(failure);
    }
  };
  const plan = (host: Host) =>
    act(async () => {
      await api.post("/api/v1/plans", { host_id: host.id });
      return `A plan of ${host.hostname} is queued; its jobs appear under Jobs.`;
    });
  const rotate = (host: Host) =>
    act(async () => {
      const rotated = await api.post<{ agent_token: string }>(`/api/v1/hosts/${host.id}/agent-token`, { grace_seconds: 3600 });
      return `New agent token for ${host.hostname} (shown once; the old one works for another hour): ${rotated.agent_token}`;
    });
  return (
    <div>
      <h1>Hosts</h1>
      <ErrorNote error={hosts.error ?? error} />
      {message ? <p className="notice" data-testid="notice">{message}</p> : null}
      {hosts.loading && !hosts.data ? <Loading what="hosts" /> : null}
      <table data-testid="hosts">
        <thead>
          <tr>
            <th>Host</th>
            <th>Agent</th>
            <th>Last heartbeat</th>
            <th>Version</th>
            <th>Volumes</th>
            <th>Last scan</th>
            <th className="number">Files</th>
            <th className="number">Bytes</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {(hosts.data?.hosts ?? []).map((host) => (
            <tr key={host.id} data-id={host.id}>
              <td>
                <a href={href("jobs") + `?host_id=${host.id}`}>{host.hostname}</a>
                <div className="muted">{host.os}</div>
              </td>
              <td>
                <span className={`state state-${host.agent_state}`} data-testid="agent-state">{host.agent_state}</span>
              </td>
              <td title={time(host.last_heartbeat_at)}>{ago(host.last_heartbeat_at)}</td>
              <td>{host.agent_version ?? "—"}</td>
              <td>
                {host.volumes.map((volume) => (
                  <div key={volume.mount_point} className="volume">
                    <code>{volume.mount_point}</code> {percent(volume.used_bytes, volume.total_bytes)} of {bytes(volume.total_bytes)}
                    <svg viewBox="0 0 100 6" preserveAspectRatio="none" className="usage" aria-hidden="true">
                      <rect x="0" y="0" height="6" width={(100 * volume.used_bytes) / Math.max(1, volume.total_bytes)}
                        className={high !== null && (100 * volume.used_bytes) / Math.max(1, volume.total_bytes) >= high ? "over" : "used"} />
                      {high !== null ? <line x1={high} x2={high} y1="0" y2="6" className="watermark" /> : null}
                    </svg>
                  </div>
                ))}
                {host.volumes.length === 0 ? <span className="muted">none reported</span> : null}
              </td>
              <td title={time(host.last_scan_at)}>{ago(host.last_scan_at)}</td>
              <td className="number">{count(host.file_count)}</td>
              <td className="number">{bytes(host.total_bytes)}</td>
              <td className="actions">
                {session.can("plans.run") ? (
                  <button type="button" onClick={() => plan(host)} data-testid="plan-host">
                    Plan now
                  </button>
                ) : null}
                {session.can("hosts.manage") ? (
                  <button type="button" onClick={() => rotate(host)} data-testid="rotate-token">
                    Rotate agent token
                  </button>
                ) : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {high !== null ? <p className="muted">The line in each volume marks the lowest high watermark of the enabled rules ({high} %).</p> : null}
    </div>
  );
}
