import { useState } from "react";
import { api } from "../api";
import { bytes, count, percent } from "../format";
import type { Host, Inventory, Savings, SavingsShare } from "../models";
import { BarList } from "../components/BarList";
import { ErrorNote, Loading } from "../components/ErrorNote";
import { SavingsChart } from "../components/SavingsChart";
import { useLoad } from "../components/useLoad";

function files(value: number): string {
  return `${count(value)} ${value === 1 ? "file" : "files"}`;
}

function daysBefore(days: number): string {
  return new Date(Date.now() - days * 86400_000).toISOString().slice(0, 10);
}

/// What was saved, over time and per host and target, and where a host's cold data is.
export function Overview() {
  const [period, setPeriod] = useState(30);
  const savings = useLoad(() => api.get<Savings>("/api/v1/analytics/savings", { from: daysBefore(period - 1) }), [period]);
  const hosts = useLoad(() => api.get<{ hosts: Host[] }>("/api/v1/hosts"), []);
  const [hostID, setHostID] = useState<string>("");
  const chosen = hostID || hosts.data?.hosts[0]?.id || "";
  return (
    <div>
      <h1>Overview</h1>
      <ErrorNote error={savings.error} />
      {savings.data ? (
        <>
          <div className="cards">
            <Card label="Space saved" value={bytes(savings.data.bytes_saved)} testID="saved" raw={savings.data.bytes_saved} />
            <Card label="Tiered in period" value={bytes(savings.data.bytes_tiered)} testID="tiered"
              raw={savings.data.bytes_tiered} detail={files(savings.data.files_tiered)} />
            <Card label="Recalled in period" value={bytes(savings.data.bytes_recalled)} testID="recalled"
              raw={savings.data.bytes_recalled} detail={files(savings.data.files_recalled)} />
          </div>
          <section className="panel">
            <h2>
              Bytes saved over time{" "}
              <select value={period} onChange={(event) => setPeriod(Number(event.target.value))} aria-label="period">
                <option value={7}>7 days</option>
                <option value={30}>30 days</option>
                <option value={90}>90 days</option>
                <option value={365}>a year</option>
              </select>
            </h2>
            <SavingsChart days={savings.data.days} />
          </section>
          <div className="columns">
            <ShareTable title="By host" shares={savings.data.hosts} total={savings.data.bytes_saved} testID="by-host" />
            <ShareTable title="By target" shares={savings.data.targets} total={savings.data.bytes_saved} testID="by-target" />
          </div>
        </>
      ) : savings.loading ? (
        <Loading what="savings" />
      ) : null}
      <section>
        <h2>
          Inventory of{" "}
          <select value={chosen} onChange={(event) => setHostID(event.target.value)} aria-label="host" data-testid="inventory-host">
            {(hosts.data?.hosts ?? []).map((host) => (
              <option key={host.id} value={host.id}>
                {host.hostname}
              </option>
            ))}
          </select>
        </h2>
        {chosen ? <InventoryPanels hostID={chosen} /> : <p className="muted">No hosts yet.</p>}
      </section>
    </div>
  );
}

function Card({ label, value, detail, testID, raw }: { label: string; value: string; detail?: string; testID: string; raw: number }) {
  return (
    <div className="card" data-testid={`card-${testID}`} data-value={raw}>
      <div className="card-label">{label}</div>
      <div className="card-value">{value}</div>
      {detail ? <div className="muted">{detail}</div> : null}
    </div>
  );
}

function ShareTable({ title, shares, total, testID }: { title: string; shares: SavingsShare[]; total: number; testID: string }) {
  return (
    <section className="panel" data-testid={testID}>
      <h3>{title}</h3>
      <table>
        <thead>
          <tr>
            <th>Name</th>
            <th className="number">Saved</th>
            <th className="number">Share</th>
            <th className="number">Tiered in period</th>
          </tr>
        </thead>
        <tbody>
          {shares.map((share) => (
            <tr key={share.id} data-id={share.id} data-saved={share.bytes_saved}>
              <td>{share.name}</td>
              <td className="number">{bytes(share.bytes_saved)}</td>
              <td className="number">{percent(share.bytes_saved, total)}</td>
              <td className="number">{count(share.files_tiered)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function InventoryPanels({ hostID }: { hostID: string }) {
  const inventory = useLoad(() => api.get<Inventory>("/api/v1/analytics/inventory", { host_id: hostID }), [hostID]);
  if (inventory.error) return <ErrorNote error={inventory.error} />;
  if (!inventory.data) return <Loading what="the inventory" />;
  const data = inventory.data;
  return (
    <>
      <p data-testid="inventory-total" data-files={data.files} data-bytes={data.bytes}>
        {count(data.files)} files, {bytes(data.bytes)}; {count(data.stubbed_files)} of them tiered ({bytes(data.stubbed_bytes)}).
        <span className="legend"><span className="swatch bar-total" /> on the host <span className="swatch bar-stubbed" /> tiered</span>
      </p>
      <div className="columns">
        <BarList title="By age (last access, else last change)" buckets={data.age} testID="by-age" />
        <BarList title="By size" buckets={data.size} testID="by-size" />
        <BarList title="By extension" buckets={data.extensions} testID="by-extension" />
        <BarList title="By owner" buckets={data.owners} testID="by-owner" />
      </div>
    </>
  );
}
