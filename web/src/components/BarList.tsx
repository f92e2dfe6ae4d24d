import { bytes, count } from "../format";
import type { Bucket } from "../models";

/// A distribution as horizontal bars of bytes, with the share already tiered drawn inside each bar.
export function BarList({ title, buckets, testID }: { title: string; buckets: Bucket[]; testID: string }) {
  const largest = Math.max(1, ...buckets.map((bucket) => bucket.bytes));
  return (
    <section className="panel" data-testid={testID}>
      <h3>{title}</h3>
      {buckets.length === 0 ? <p className="muted">No files.</p> : null}
      <table className="bars">
        <tbody>
          {buckets.map((bucket) => (
            <tr key={bucket.key} data-key={bucket.key}>
              <th scope="row">{bucket.key}</th>
              <td className="bar-cell">
                <svg viewBox="0 0 100 10" preserveAspectRatio="none" className="bar" aria-hidden="true">
                  <rect x="0" y="0" height="10" width={(100 * bucket.bytes) / largest} className="bar-total" />
                  <rect x="0" y="0" height="10" width={(100 * bucket.stubbed_bytes) / largest} className="bar-stubbed" />
                </svg>
              </td>
              <td className="number" data-field="bytes">{bytes(bucket.bytes)}</td>
              <td className="number" data-field="files">{count(bucket.files)} files</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
