import { useState } from "preact/hooks";
import { Panel, Segmented } from "../components.tsx";
import { type ExplorerState, mainChainDesc } from "../state.ts";

interface Series {
  points: readonly { x: number; y: number }[];
  class: string;
  /** Draw points as dots instead of a line. */
  dots?: boolean;
  /** Draw as steps (a value holds until the next point), as difficulty does between blocks. */
  steps?: boolean;
}

const W = 560;
const H = 180;
const PAD = { l: 62, r: 14, t: 12, b: 26 };

/** Round tick values covering [lo, hi]. */
function ticks(lo: number, hi: number, count: number): number[] {
  const span = hi - lo || Math.abs(hi) || 1;
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step)
    out.push(Number(v.toPrecision(12)));
  return out;
}

/** A small SVG chart over block heights, with an optional horizontal reference line. */
export function LineChart(props: {
  series: readonly Series[];
  reference?: { y: number; label: string };
  format: (v: number) => string;
  yMin?: number;
  label: string;
  testid?: string;
}) {
  const all = props.series.flatMap((s) => s.points);
  if (all.length < 2) return <p class="empty">Not enough blocks yet.</p>;
  const xs = all.map((p) => p.x);
  const ys = all.map((p) => p.y);
  if (props.reference) ys.push(props.reference.y);
  const x0 = Math.min(...xs);
  const x1 = Math.max(...xs);
  let y0 = Math.min(props.yMin ?? Number.POSITIVE_INFINITY, ...ys);
  let y1 = Math.max(...ys);
  if (y1 - y0 < 1e-12) {
    // A flat series (fixed difficulty): centre it instead of drawing it on the frame.
    const pad = Math.abs(y1) * 0.1 || 1;
    y0 -= pad;
    y1 += pad;
  } else {
    y1 += (y1 - y0) * 0.08;
  }
  const sx = (x: number): number => PAD.l + ((x - x0) / (x1 - x0 || 1)) * (W - PAD.l - PAD.r);
  const sy = (y: number): number => H - PAD.b - ((y - y0) / (y1 - y0)) * (H - PAD.t - PAD.b);
  const yt = ticks(y0, y1, 4).filter((v) => v >= y0 && v <= y1);
  const xt = ticks(x0, x1, 6).filter((v) => Number.isInteger(v) && v >= x0 && v <= x1);
  return (
    <svg
      class="chart"
      viewBox={`0 0 ${W} ${H}`}
      role="img"
      aria-label={props.label}
      data-testid={props.testid}
    >
      {yt.map((v) => (
        <g key={`y${v}`}>
          <line x1={PAD.l} x2={W - PAD.r} y1={sy(v)} y2={sy(v)} class="grid" />
          <text x={PAD.l - 6} y={sy(v) + 4} class="axis" text-anchor="end">
            {props.format(v)}
          </text>
        </g>
      ))}
      {xt.map((v) => (
        <text key={`x${v}`} x={sx(v)} y={H - 8} class="axis" text-anchor="middle">
          {v}
        </text>
      ))}
      {props.reference && (
        <g class="reference">
          <line x1={PAD.l} x2={W - PAD.r} y1={sy(props.reference.y)} y2={sy(props.reference.y)} />
          <text x={W - PAD.r - 4} y={sy(props.reference.y) - 5} text-anchor="end">
            {props.reference.label}
          </text>
        </g>
      )}
      {props.series.map((s) =>
        s.dots ? (
          <g class={s.class} key={s.class}>
            {s.points.map((p) => (
              <circle key={p.x} cx={sx(p.x)} cy={sy(p.y)} r={2.6} />
            ))}
          </g>
        ) : (
          <path
            key={s.class}
            class={s.class}
            d={s.points
              .map((p, i) => {
                const prev = s.points[i - 1];
                const step = s.steps && prev ? `H${sx(p.x)} ` : "";
                return i === 0
                  ? `M${sx(p.x)},${sy(p.y)}`
                  : `${step}${s.steps ? "V" : `L${sx(p.x)},`}${sy(p.y)}`;
              })
              .join(" ")}
          />
        ),
      )}
    </svg>
  );
}

type Span = 50 | 100;
const SPANS: readonly { value: Span; label: string }[] = [
  { value: 50, label: "50 blocks" },
  { value: 100, label: "100 blocks" },
];

/** Mean of the last `n` values ending at each point. */
function movingAverage(points: readonly { x: number; y: number }[], n: number): { x: number; y: number }[] {
  return points.map((p, i) => {
    const w = points.slice(Math.max(0, i - n + 1), i + 1);
    return { x: p.x, y: w.reduce((a, q) => a + q.y, 0) / w.length };
  });
}

/** Difficulty and block times over the last blocks: how ASERT steers the pace back to the target. */
export function DifficultyView(props: { s: ExplorerState }) {
  const { s } = props;
  const [span, setSpan] = useState<Span>(50);
  const blocks = mainChainDesc(s, span + 1)
    .reverse()
    .filter((b) => b.height > 0);
  const info = s.info;
  const spacing = info?.targetSpacing;
  const diff = blocks.map((b) => ({ x: b.height, y: b.difficulty }));
  // Block 1's gap runs from genesis, whose timestamp is fixed in the code: not a mining interval.
  const times = blocks
    .filter((b) => b.sincePrev !== null && b.height > 1)
    .map((b) => ({ x: b.height, y: b.sincePrev ?? 0 }));
  const avg = movingAverage(times, 10);
  const fmtSeconds = (v: number): string => `${Number(v.toFixed(1))} s`;
  return (
    <Panel
      title="Difficulty and block time"
      id="difficulty"
      actions={<Segmented label="span" value={span} options={SPANS} onChange={setSpan} />}
      hint={
        info && !info.retargeting
          ? `This network (${info.network}) keeps a fixed difficulty; block times are whatever the miners make them.`
          : `Difficulty is set per block by ASERT: blocks faster than the ${spacing ?? "?"} s target raise it, slower ones lower it (half-life ${info?.asertHalfLife ?? "?"} s).`
      }
    >
      <h3>Difficulty</h3>
      <LineChart
        label="difficulty per block"
        testid="difficulty-chart"
        series={[{ points: diff, class: "line difficulty", steps: true }]}
        format={(v) => String(Number(v.toPrecision(3)))}
      />
      <h3>Time since previous block</h3>
      <LineChart
        label="seconds between blocks"
        testid="blocktime-chart"
        series={[
          { points: times, class: "dots blocktime", dots: true },
          { points: avg, class: "line average" },
        ]}
        reference={spacing === undefined ? undefined : { y: spacing, label: `target ${spacing} s` }}
        yMin={0}
        format={fmtSeconds}
      />
      <div class="legend">
        <span>
          <i class="sw dot" /> one block
        </span>
        <span>
          <i class="sw avg" /> average of 10
        </span>
        <span>
          <i class="sw ref" /> target block time
        </span>
      </div>
    </Panel>
  );
}
