import { useId } from 'react';

export interface ChartPoint {
  readonly x: number;
  readonly y: number;
  /** What a point is (a session id, a call), shown in its tooltip and the data table. */
  readonly label: string;
}

export interface TimeChartProps {
  readonly title: string;
  readonly points: readonly ChartPoint[];
  readonly formatX: (x: number) => string;
  /** A shorter form of x for the axis (a time without its date); `formatX` when not given. */
  readonly formatTick?: (x: number) => string;
  readonly formatY: (y: number) => string;
  readonly yLabel: string;
  /** Draw a line through the points in x order (a running total); otherwise only points. */
  readonly line?: boolean;
}

const width = 640;
const height = 220;
const margin = { top: 12, right: 16, bottom: 36, left: 84 };

/** A small SVG chart of values over time, with its data as a table for screen readers and keyboard users. */
export function TimeChart(props: TimeChartProps) {
  const id = useId();
  const points = [...props.points].sort((a, b) => a.x - b.x);
  const innerWidth = width - margin.left - margin.right;
  const innerHeight = height - margin.top - margin.bottom;
  const minX = points[0]?.x ?? 0;
  const maxX = points.at(-1)?.x ?? 1;
  const maxY = Math.max(...points.map((point) => point.y), 0) || 1;
  const x = (value: number): number => margin.left + (maxX === minX ? innerWidth / 2 : ((value - minX) / (maxX - minX)) * innerWidth);
  const y = (value: number): number => margin.top + innerHeight - (value / maxY) * innerHeight;
  const yTicks = [0, 0.25, 0.5, 0.75, 1].map((share) => share * maxY);
  const xTicks = maxX === minX ? [minX] : [0, 0.5, 1].map((share) => minX + share * (maxX - minX));
  const path = points.map((point, index) => `${index === 0 ? 'M' : 'L'}${x(point.x).toFixed(1)},${y(point.y).toFixed(1)}`).join(' ');

  return (
    <figure className="chart" aria-labelledby={`${id}-title`}>
      <figcaption id={`${id}-title`}>{props.title}</figcaption>
      {points.length === 0 ? (
        <p className="muted">No data yet.</p>
      ) : (
        <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={`${props.title}: ${points.length} points, highest ${props.formatY(maxY)}`}>
          {yTicks.map((tick) => (
            <g key={`y${tick}`} className="tick">
              <line x1={margin.left} x2={width - margin.right} y1={y(tick)} y2={y(tick)} />
              <text x={margin.left - 6} y={y(tick)} dy="0.32em" textAnchor="end">
                {props.formatY(tick)}
              </text>
            </g>
          ))}
          {xTicks.map((tick, index) => (
            <text key={`x${tick}`} className="tick" x={x(tick)} y={height - margin.bottom + 18} textAnchor={xTicks.length > 1 && index === xTicks.length - 1 ? 'end' : index === 0 && xTicks.length > 1 ? 'start' : 'middle'}>
              {(props.formatTick ?? props.formatX)(tick)}
            </text>
          ))}
          <text className="axis-label" transform={`translate(12 ${margin.top + innerHeight / 2}) rotate(-90)`} textAnchor="middle">
            {props.yLabel}
          </text>
          {props.line === true ? <path className="series-line" d={path} /> : null}
          {points.map((point, index) => (
            <circle key={index} className="series-point" cx={x(point.x)} cy={y(point.y)} r={3.5}>
              <title>{`${point.label}: ${props.formatY(point.y)} at ${props.formatX(point.x)}`}</title>
            </circle>
          ))}
        </svg>
      )}
      <details>
        <summary>Data</summary>
        <table className="data compact">
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">What</th>
              <th scope="col" className="number">
                {props.yLabel}
              </th>
            </tr>
          </thead>
          <tbody>
            {points.map((point, index) => (
              <tr key={index}>
                <td>{props.formatX(point.x)}</td>
                <td>{point.label}</td>
                <td className="number">{props.formatY(point.y)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}
