import { bytes } from "../format";
import type { SavingsDay } from "../models";

const width = 720;
const height = 220;
const margin = { left: 70, right: 12, top: 12, bottom: 28 };

/// Bytes saved over time: the running total as an area, each day's tiered bytes as a bar beneath it.
export function SavingsChart({ days }: { days: SavingsDay[] }) {
  if (days.length === 0) return <p className="muted">Nothing tiered in this period.</p>;
  const top = Math.max(1, ...days.map((day) => Math.max(day.bytes_saved_total, day.bytes_tiered)));
  const plotWidth = width - margin.left - margin.right;
  const plotHeight = height - margin.top - margin.bottom;
  const step = plotWidth / days.length;
  const x = (index: number) => margin.left + step * index + step / 2;
  const y = (value: number) => margin.top + plotHeight - (plotHeight * Math.max(0, value)) / top;
  const line = days.map((day, index) => `${index === 0 ? "M" : "L"}${x(index).toFixed(1)},${y(day.bytes_saved_total).toFixed(1)}`);
  const area = `${line.join(" ")} L${x(days.length - 1).toFixed(1)},${y(0)} L${x(0).toFixed(1)},${y(0)} Z`;
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((fraction) => fraction * top);
  const labelEvery = Math.max(1, Math.ceil(days.length / 8));
  return (
    <svg viewBox={`0 0 ${width} ${height}`} className="chart" role="img" aria-label="bytes saved over time">
      {ticks.map((tick) => (
        <g key={tick}>
          <line x1={margin.left} x2={width - margin.right} y1={y(tick)} y2={y(tick)} className="grid" />
          <text x={margin.left - 6} y={y(tick) + 4} className="axis" textAnchor="end">
            {bytes(Math.round(tick))}
          </text>
        </g>
      ))}
      {days.map((day, index) => (
        <rect key={day.day} x={x(index) - step * 0.35} width={step * 0.7} y={y(day.bytes_tiered)}
          height={y(0) - y(day.bytes_tiered)} className="tiered">
          <title>{`${day.day}: ${bytes(day.bytes_tiered)} tiered, ${bytes(day.bytes_recalled)} recalled`}</title>
        </rect>
      ))}
      <path d={area} className="saved-area" />
      <path d={line.join(" ")} className="saved-line" />
      {days.map((day, index) =>
        index % labelEvery === 0 ? (
          <text key={day.day} x={x(index)} y={height - 8} className="axis" textAnchor="middle">
            {day.day.slice(5)}
          </text>
        ) : null,
      )}
    </svg>
  );
}
