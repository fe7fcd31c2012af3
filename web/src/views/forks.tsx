import type { JSX } from "preact";
import type { TreeNode } from "../../../src/api/schemas.ts";
import { Hash, Miner, Panel } from "../components.tsx";
import { ago, hashParts, minerColour } from "../format.ts";
import { blockHref, linkHandler } from "../router.tsx";
import type { ExplorerState, ReorgRecord } from "../state.ts";

/** Heights drawn: enough to see a few forks come and go without scrolling far. */
const SHOW_HEIGHTS = 16;
const ROW = 44;
const LANE = 200;
const BOX_W = 128;
const BOX_H = 32;
const AXIS = 56;
const TOP = 14;

interface Placed {
  node: TreeNode;
  lane: number;
  x: number;
  y: number;
}

/**
 * Lanes: the main chain takes lane 0; every side branch (a path of stale blocks, following its longest
 * continuation) takes the lowest lane free over its height range, so branches sit side by side next to
 * the heights they compete for.
 */
export function layoutTree(nodes: readonly TreeNode[]): {
  placed: Map<string, Placed>;
  lanes: number;
  top: number;
  bottom: number;
} {
  const byHash = new Map(nodes.map((n) => [n.hash, n]));
  const children = new Map<string, TreeNode[]>();
  for (const n of nodes) {
    const list = children.get(n.parent) ?? [];
    list.push(n);
    children.set(n.parent, list);
  }
  // Height of the highest descendant, to pick which child continues a branch.
  const reach = new Map<string, number>();
  const sorted = [...nodes].sort((a, b) => b.height - a.height);
  for (const n of sorted) {
    let r = n.height;
    for (const c of children.get(n.hash) ?? []) r = Math.max(r, reach.get(c.hash) ?? c.height);
    reach.set(n.hash, r);
  }

  const branches: TreeNode[][] = [];
  const startBranch = (root: TreeNode): void => {
    const path: TreeNode[] = [];
    let cur: TreeNode | undefined = root;
    while (cur) {
      path.push(cur);
      const kids: TreeNode[] = (children.get(cur.hash) ?? []).filter((c) => !c.main);
      kids.sort((a, b) => (reach.get(b.hash) ?? 0) - (reach.get(a.hash) ?? 0) || a.time - b.time);
      for (const other of kids.slice(1)) startBranch(other);
      cur = kids[0];
    }
    branches.push(path);
  };
  for (const n of nodes) {
    if (n.main) continue;
    const parent = byHash.get(n.parent);
    if (!parent || parent.main) startBranch(n);
  }

  const placed = new Map<string, Placed>();
  let top = Number.NEGATIVE_INFINITY;
  let bottom = Number.POSITIVE_INFINITY;
  for (const n of nodes) {
    top = Math.max(top, n.height);
    bottom = Math.min(bottom, n.height);
  }
  const pos = (node: TreeNode, lane: number): void => {
    placed.set(node.hash, { node, lane, x: AXIS + lane * LANE, y: TOP + (top - node.height) * ROW });
  };
  for (const n of nodes) if (n.main) pos(n, 0);
  const laneEnd: number[] = [Number.POSITIVE_INFINITY];
  branches.sort((a, b) => a[0]!.height - b[0]!.height || a[0]!.time - b[0]!.time);
  for (const br of branches) {
    const start = br[0]!.height;
    const end = br.at(-1)!.height;
    let lane = 1;
    while ((laneEnd[lane] ?? Number.NEGATIVE_INFINITY) >= start) lane++;
    laneEnd[lane] = end;
    for (const n of br) pos(n, lane);
  }
  return { placed, lanes: Math.max(1, laneEnd.length), top, bottom };
}

function reorgSentence(r: ReorgRecord): string {
  const first = r.fork.height + 1;
  const n = r.left.length;
  const j = r.joined.length;
  return `Reorg depth ${r.depth} at height ${first}: ${n} block${n === 1 ? "" : "s"} replaced, ${j} joined from a heavier branch`;
}

/** The banner shown at the top of the page for the latest reorg. */
export function ReorgBanner(props: { r: ReorgRecord; now: number }) {
  const { r, now } = props;
  return (
    <div class="banner reorg" role="status" data-testid="reorg-banner" data-depth={r.depth}>
      <span class="tag reorg">reorg</span> <strong>{reorgSentence(r)}</strong>
      <span class="muted">
        {" "}
        · {ago(r.at / 1000, now)} · fork point #{r.fork.height}
      </span>
      <div class="reorg-blocks">
        <span class="muted">left the main chain:</span>
        {r.left.map((b) => (
          <span class="left" key={b.hash}>
            <Hash hash={b.hash} /> <Miner name={b.miner} />
          </span>
        ))}
        <span class="muted">joined:</span>
        {r.joined.map((b) => (
          <span class="joined" key={b.hash}>
            <Hash hash={b.hash} /> <Miner name={b.miner} />
          </span>
        ))}
      </div>
    </div>
  );
}

function NodeBox(props: { p: Placed; replaced: boolean; isTip: boolean }) {
  const { p, replaced, isTip } = props;
  const n = p.node;
  const invalid = n.status === "invalid" || n.status === "invalid-child";
  const kind = n.main ? "main" : invalid ? "invalid" : replaced ? "replaced" : "stale";
  const hp = hashParts(n.hash, 3, 3);
  const label = `#${n.height} ${n.hash} by ${n.miner}: ${
    n.main
      ? "main chain"
      : invalid
        ? "invalid"
        : replaced
          ? "left the main chain in a reorg"
          : "stale (side branch)"
  }`;
  return (
    <a
      href={blockHref(n.hash)}
      onClick={linkHandler(blockHref(n.hash))}
      class={`tnode ${kind}`}
      data-hash={n.hash}
      data-kind={kind}
    >
      <title>{label}</title>
      <rect x={p.x} y={p.y} width={BOX_W} height={BOX_H} rx={5} class={`box ${kind}`} />
      <rect x={p.x} y={p.y} width={5} height={BOX_H} rx={2} fill={minerColour(n.miner)} />
      <text x={p.x + 11} y={p.y + 13} class={`thash ${kind}`}>
        <tspan class="zeros">{hp.zeros}</tspan>
        {`${hp.head}…${hp.tail}`}
      </text>
      <text x={p.x + 11} y={p.y + 26} class="tminer">
        {n.miner.length > 18 ? `${n.miner.slice(0, 17)}…` : n.miner}
      </text>
      {(replaced || invalid) && (
        <line x1={p.x + 4} y1={p.y + BOX_H / 2} x2={p.x + BOX_W - 4} y2={p.y + BOX_H / 2} class="strike" />
      )}
      {isTip && (
        <text x={p.x + BOX_W + 6} y={p.y + 20} class="ttag">
          tip
        </text>
      )}
      {!n.main && (
        <text x={p.x + BOX_W + 6} y={p.y + 20} class={`ttag ${kind}`}>
          {invalid ? "invalid" : replaced ? "replaced" : "stale"}
        </text>
      )}
    </a>
  );
}

/** The recent block tree: main chain on the left, stale branches beside it, heights top to bottom. */
export function ForkView(props: { s: ExplorerState; now: number }) {
  const { s, now } = props;
  const tree = s.tree;
  const nodes = tree ? tree.nodes.filter((n) => n.height > tree.tipHeight - SHOW_HEIGHTS) : [];
  const side = nodes.filter((n) => !n.main).length;
  const { placed, lanes, top, bottom } = layoutTree(nodes);
  const width = AXIS + lanes * LANE + 40;
  const height = nodes.length ? TOP + (top - bottom + 1) * ROW : 0;
  const edges: JSX.Element[] = [];
  for (const p of placed.values()) {
    const parent = placed.get(p.node.parent);
    const x1 = p.x + BOX_W / 2;
    const y1 = p.y + BOX_H;
    if (!parent) {
      if (p.node.height > bottom) continue;
      edges.push(<line key={`stub${p.node.hash}`} x1={x1} y1={y1} x2={x1} y2={y1 + 8} class="edge stub" />);
      continue;
    }
    // Same lane: straight down to the parent. A branch leaves from its parent's side, so it reads as
    // "forked off this block" and never crosses the main chain's boxes.
    const sameLane = p.lane === parent.lane;
    const x2 = sameLane ? parent.x + BOX_W / 2 : parent.x + BOX_W;
    const y2 = sameLane ? parent.y : parent.y + BOX_H / 2;
    const d = sameLane ? `M${x1},${y1} L${x2},${y2}` : `M${x1},${y1} C${x1},${y2} ${x1},${y2} ${x2},${y2}`;
    edges.push(<path key={`e${p.node.hash}`} d={d} class={`edge ${p.node.main ? "main" : "side"}`} />);
  }
  const heights: number[] = [];
  for (let h = top; h >= bottom && nodes.length; h--) heights.push(h);

  return (
    <Panel
      title="Fork view"
      id="forks"
      hint="Every block this node knows near the tip. When two miners find a block at the same height, both appear side by side; the one that ends up with less work behind it goes stale."
      actions={
        <span class="muted" data-testid="fork-count">
          {side ? `${side} stale block${side === 1 ? "" : "s"} shown` : "no forks in view"}
        </span>
      }
    >
      {!tree ? (
        <p class="empty">Loading the block tree…</p>
      ) : (
        <div class="tree-scroll">
          <svg
            class="tree"
            width={width}
            height={height}
            viewBox={`0 0 ${width} ${height}`}
            role="img"
            aria-label="block tree"
            data-testid="fork-tree"
          >
            <text x={AXIS + BOX_W / 2} y={10} class="lane-label" text-anchor="middle">
              main chain
            </text>
            {lanes > 1 && (
              <text x={AXIS + LANE + BOX_W / 2} y={10} class="lane-label" text-anchor="middle">
                side branches
              </text>
            )}
            {heights.map((h) => (
              <text key={h} x={AXIS - 8} y={TOP + (top - h) * ROW + 20} class="axis" text-anchor="end">
                {h}
              </text>
            ))}
            {edges}
            {[...placed.values()].map((p) => (
              <NodeBox
                key={p.node.hash}
                p={p}
                replaced={s.replaced.has(p.node.hash)}
                isTip={p.node.hash === tree.tip}
              />
            ))}
          </svg>
        </div>
      )}
      <div class="legend">
        <span>
          <i class="sw main" /> main chain
        </span>
        <span>
          <i class="sw stale" /> stale: lost the race
        </span>
        <span>
          <i class="sw replaced" /> replaced by a reorg seen here
        </span>
        <span>
          <i class="sw invalid" /> invalid
        </span>
      </div>
      {s.reorgs.length > 0 && (
        <div class="reorg-log" data-testid="reorg-log">
          <h3>Reorgs seen on this page</h3>
          <ul>
            {s.reorgs.map((r) => (
              <li key={r.id} data-depth={r.depth}>
                <span class="muted">{ago(r.at / 1000, now)}</span> {reorgSentence(r)}
              </li>
            ))}
          </ul>
        </div>
      )}
    </Panel>
  );
}
