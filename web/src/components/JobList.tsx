import { useEffect, useState } from "react";
import { api } from "../api";
import { bytes, count, time } from "../format";
import type { Job, JobDetail, Notification } from "../models";
import { href, navigate } from "../route";
import { useNotifications } from "../notifications";
import { ErrorNote, Loading } from "./ErrorNote";
import { useLoad } from "./useLoad";

const pollSeconds = 5;
const livePollSeconds = 15;

/// Tiering or recall jobs, newest first, kept current: a notification about a job reloads the list at once, and
/// the list is asked again every few seconds besides (more often while the WebSocket is down), since a job that
/// was just planned has no notification of its own yet.
export function JobList({ kind, hostID, state }: { kind: "jobs" | "recalls"; hostID: string | null; state: string | null }) {
  const jobs = useLoad(
    () => api.get<Record<string, Job[]>>(`/api/v1/${kind}`, { host_id: hostID, state }).then((answer) => answer[kind] ?? []),
    [kind, hostID, state],
  );
  const [lastEvent, setLastEvent] = useState<string | null>(null);
  const live = useNotifications((notification: Notification) => {
    setLastEvent(notification.payload.summary);
    jobs.reload();
  });
  useLivePoll(live ? livePollSeconds : pollSeconds, jobs.reload);
  return (
    <>
      <p className="muted" data-testid="live">
        {live ? "Live: following notifications." : `Not live: refreshing every ${pollSeconds} s.`}
        {lastEvent ? ` Last event: ${lastEvent}` : null}
      </p>
      <ErrorNote error={jobs.error} />
      {jobs.loading && !jobs.data ? <Loading what={kind} /> : null}
      <table data-testid={`${kind}-list`}>
        <thead>
          <tr>
            <th>Created</th>
            <th>Host</th>
            <th>{kind === "jobs" ? "Rule → target" : "Rule or requester"}</th>
            <th>State</th>
            <th>Progress</th>
            <th className="number">Files</th>
            {kind === "jobs" ? <th className="number">Saved</th> : null}
          </tr>
        </thead>
        <tbody>
          {(jobs.data ?? []).map((job) => (
            <tr key={job.id} data-id={job.id} data-state={job.state} className="clickable" onClick={() => navigate(kind, job.id)}>
              <td><a href={href(kind, job.id)}>{time(job.created_at)}</a></td>
              <td>{job.hostname}</td>
              <td>{kind === "jobs" ? `${job.rule_name ?? "—"} → ${job.target_name ?? "—"}` : job.rule_name ?? job.requested_by ?? "—"}</td>
              <td>
                <span className={`state state-${job.state}`} data-testid="job-state">{job.state}</span>
                {job.state_reason ? <div className="muted">{job.state_reason}</div> : null}
              </td>
              <td><Progress job={job} /></td>
              <td className="number">{count(job.file_count)}</td>
              {kind === "jobs" ? <td className="number">{bytes(job.bytes_saved)}</td> : null}
            </tr>
          ))}
          {jobs.data && jobs.data.length === 0 ? (
            <tr>
              <td className="muted">None yet.</td>
            </tr>
          ) : null}
        </tbody>
      </table>
    </>
  );
}

/// Asks again every `seconds`, or never when it is null.
function useLivePoll(seconds: number | null, reload: () => void) {
  useEffect(() => {
    if (seconds === null) return undefined;
    const timer = window.setInterval(reload, seconds * 1000);
    return () => window.clearInterval(timer);
  }, [seconds, reload]);
}

export function Progress({ job }: { job: Job }) {
  const done = Object.entries(job.outcomes).filter(([state]) => state !== "pending").reduce((sum, [, files]) => sum + files, 0);
  const fraction = job.file_count > 0 ? done / job.file_count : 0;
  return (
    <span className="progress" data-done={done} data-total={job.file_count}>
      <svg viewBox="0 0 100 6" preserveAspectRatio="none" aria-hidden="true">
        <rect x="0" y="0" width="100" height="6" className="bar-total" />
        <rect x="0" y="0" width={100 * fraction} height="6" className="bar-stubbed" />
      </svg>
      {Object.entries(job.outcomes).map(([state, files]) => `${files} ${state}`).join(", ") || "not started"}
    </span>
  );
}

/// One job and every file's outcome with its reason, a page at a time; it follows notifications like the list.
export function JobView({ kind, id }: { kind: "jobs" | "recalls"; id: string }) {
  const [after, setAfter] = useState<string[]>([]);
  const detail = useLoad(() => api.get<JobDetail>(`/api/v1/${kind}/${id}`, { after: after[after.length - 1], limit: 200 }), [kind, id, after]);
  const live = useNotifications((notification: Notification) => {
    if (!notification.payload.job_id || notification.payload.job_id === id) detail.reload();
  });
  const finished = ["done", "failed", "partially_done"].includes(detail.data?.job.state ?? "");
  useLivePoll(finished ? null : live ? livePollSeconds : pollSeconds, detail.reload);
  if (detail.error) return <ErrorNote error={detail.error} />;
  if (!detail.data) return <Loading what="the job" />;
  const { job, files, next_after } = detail.data;
  return (
    <div data-testid="job-detail" data-state={job.state}>
      <p><a href={href(kind)}>← all {kind === "jobs" ? "jobs" : "recalls"}</a></p>
      <h2>
        {job.kind === "tier" ? "Tiering" : "Recall"} job on {job.hostname}{" "}
        <span className={`state state-${job.state}`} data-testid="job-state">{job.state}</span>
      </h2>
      <dl className="facts">
        <dt>Rule</dt><dd>{job.rule_name ?? "—"}</dd>
        {job.kind === "tier" ? (<><dt>Target</dt><dd>{job.target_name ?? "—"}</dd></>) : (<><dt>Requested by</dt><dd>{job.requested_by ?? "—"}</dd></>)}
        <dt>Created</dt><dd>{time(job.created_at)}</dd>
        <dt>Dispatched</dt><dd>{time(job.dispatched_at)}</dd>
        <dt>Finished</dt><dd>{time(job.finished_at)}</dd>
        <dt>Progress</dt><dd><Progress job={job} /></dd>
        {job.kind === "tier" ? (<><dt>Saved</dt><dd>{bytes(job.bytes_saved)}</dd></>) : null}
        {job.state_reason ? (<><dt>Why</dt><dd>{job.state_reason}</dd></>) : null}
      </dl>
      <table data-testid="job-files">
        <thead>
          <tr>
            <th>File</th>
            {job.kind === "tier" ? <th className="number">Size</th> : null}
            <th>Outcome</th>
            <th>Reason</th>
          </tr>
        </thead>
        <tbody>
          {files.map((file) => (
            <tr key={file.path} data-state={file.state}>
              <td><code>{file.path}</code></td>
              {job.kind === "tier" ? <td className="number">{bytes(file.size)}</td> : null}
              <td><span className={`state state-${file.state}`}>{file.state}</span></td>
              <td>{file.reason ?? ""}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <div className="row">
        {after.length > 0 ? <button type="button" onClick={() => setAfter(after.slice(0, -1))}>Previous files</button> : null}
        {next_after ? <button type="button" onClick={() => setAfter([...after, next_after])}>Next files</button> : null}
      </div>
    </div>
  );
}
