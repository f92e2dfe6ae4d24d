import { useRoute } from "../route";
import { JobList, JobView } from "../components/JobList";

const states = ["", "queued", "dispatched", "running", "held", "done", "partially_done", "failed"];

export function Jobs() {
  const route = useRoute();
  const id = route.parts[0];
  if (id) return <JobView kind="jobs" id={id} />;
  const state = route.query.get("state");
  const hostID = route.query.get("host_id");
  return (
    <div>
      <h1>Tiering jobs</h1>
      <div className="row">
        <label>
          State{" "}
          <select value={state ?? ""} onChange={(event) => {
            const query = new URLSearchParams(route.query);
            if (event.target.value) query.set("state", event.target.value);
            else query.delete("state");
            window.location.hash = `#/jobs?${query.toString()}`;
          }}>
            {states.map((value) => <option key={value} value={value}>{value || "any"}</option>)}
          </select>
        </label>
      </div>
      <JobList kind="jobs" hostID={hostID} state={state} />
    </div>
  );
}
