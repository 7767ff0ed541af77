// A small SVG line chart (loss curves, the forecast window): no library needed for a few lines.
import type { Point } from "../format";

export interface Line {
  name: string;
  color: string;
  points: Point[];
}

interface Props {
  lines: Line[];
  width?: number;
  height?: number;
  testId: string;
}

const PAD = 34;

export function scale(lines: Line[], width: number, height: number) {
  const all = lines.flatMap((line) => line.points);
  const xs = all.map(([x]) => x);
  const ys = all.map(([, y]) => y);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const sx = (x: number) => PAD + ((x - x0) / (x1 - x0 || 1)) * (width - 2 * PAD);
  const sy = (y: number) => height - PAD + -((y - y0) / (y1 - y0 || 1)) * (height - 2 * PAD);
  return { sx, sy, y0, y1, x0, x1 };
}

export function LineChart({ lines, width = 520, height = 220, testId }: Props) {
  const drawn = lines.filter((line) => line.points.length > 0);
  if (!drawn.length) {
    return (
      <div className="empty" data-testid={testId}>
        waiting for data…
      </div>
    );
  }
  const { sx, sy, y0, y1, x0, x1 } = scale(drawn, width, height);
  return (
    <svg
      width={width}
      height={height}
      className="linechart"
      data-testid={testId}
      data-points={drawn.reduce((n, line) => n + line.points.length, 0)}
    >
      <line x1={PAD} y1={height - PAD} x2={width - PAD} y2={height - PAD} stroke="#99a" />
      <line x1={PAD} y1={PAD} x2={PAD} y2={height - PAD} stroke="#99a" />
      <text x={2} y={PAD} fontSize={10}>{y1.toFixed(3)}</text>
      <text x={2} y={height - PAD} fontSize={10}>{y0.toFixed(3)}</text>
      <text x={PAD} y={height - 8} fontSize={10}>{x0}</text>
      <text x={width - PAD} y={height - 8} fontSize={10} textAnchor="end">{x1}</text>
      {drawn.map((line, index) => (
        <g key={line.name}>
          <polyline
            fill="none"
            stroke={line.color}
            strokeWidth={2}
            points={line.points.map(([x, y]) => `${sx(x)},${sy(y)}`).join(" ")}
          />
          <text x={width - PAD - 110} y={14 + 13 * index} fontSize={11} fill={line.color}>
            {line.name}
          </text>
        </g>
      ))}
    </svg>
  );
}
