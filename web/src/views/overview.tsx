import type { ComponentChildren } from "preact";
import type { DevnetNode } from "../../../src/api/devnet.ts";
import { blockWork } from "../../../src/consensus/index.ts";
import { formatHashRate } from "../../../src/util/format.ts";
import { Hash, Miner, Panel } from "../components.tsx";
import { ago, difficulty, duration } from "../format.ts";
import { type ExplorerState, mainChainDesc } from "../state.ts";

const RATE_WINDOW = 20;

/** Network hash rate estimated from the work of the last blocks over the time they took. */
export function estimateNetworkRate(blocks: readonly { time: number; bits: string }[]): number | undefined {
  if (blocks.length < 3) return undefined;
  const newest = blocks[0]!;
  const oldest = blocks.at(-1)!;
  const seconds = newest.time - oldest.time;
  if (seconds <= 0) return undefined;
  // The oldest block's work was done before the window starts.
  let work = 0n;
  for (const b of blocks.slice(0, -1)) work += blockWork(Number.parseInt(b.bits, 16));
  return Number(work) / seconds;
}

function Tile(props: { label: string; value: ComponentChildren; sub?: ComponentChildren; testid?: string }) {
  return (
    <div class="tile" data-testid={props.testid}>
      <div class="tile-label">{props.label}</div>
      <div class="tile-value">{props.value}</div>
      {props.sub && <div class="tile-sub">{props.sub}</div>}
    </div>
  );
}

/** Headline numbers: height, difficulty, pace against the target, hash rates, peers. */
export function Overview(props: { s: ExplorerState; now: number }) {
  const { s, now } = props;
  const st = s.status;
  // Genesis is left out: its time is fixed in the code, so the gap after it is no mining interval.
  const recent = mainChainDesc(s, RATE_WINDOW + 1).filter((b) => b.height > 0);
  const gaps = recent.slice(0, -1).map((b, i) => b.time - recent[i + 1]!.time);
  const avg = gaps.length ? gaps.reduce((a, b) => a + b, 0) / gaps.length : undefined;
  const net = estimateNetworkRate(recent);
  const mining = s.mining ?? st?.mining;
  const spacing = s.info?.targetSpacing;
  return (
    <div class="tiles">
      <Tile
        label="height"
        testid="tile-height"
        value={st ? st.tip.height : "…"}
        sub={st ? <>tip {ago(st.tip.time, now)}</> : undefined}
      />
      <Tile
        label="difficulty (next block)"
        value={st ? difficulty(st.difficulty) : "…"}
        sub={st ? `bits ${st.bits}` : undefined}
      />
      <Tile
        label={`block time (last ${gaps.length || RATE_WINDOW})`}
        value={avg === undefined ? "…" : duration(avg)}
        sub={spacing === undefined ? undefined : `target ${duration(spacing)}`}
      />
      <Tile
        label="hash rate"
        testid="tile-hashrate"
        value={net === undefined ? "…" : `≈ ${formatHashRate(net)}`}
        sub={
          !mining?.available
            ? "network estimate · this node has no miner"
            : mining.running
              ? `network estimate · this node ${formatHashRate(mining.hashRate)} on ${mining.threads} thread${mining.threads === 1 ? "" : "s"}`
              : "network estimate · this node's miner is idle"
        }
      />
      <Tile
        label="peers"
        testid="tile-peers"
        value={st ? st.peers : "…"}
        sub={
          st?.syncing
            ? `syncing${st.sync.target ? ` to #${st.sync.target}` : ""}`
            : st
              ? "in sync"
              : undefined
        }
      />
    </div>
  );
}

export function PeersView(props: { s: ExplorerState }) {
  const peers = props.s.peers;
  return (
    <Panel title="Peers" id="peers" hint="Nodes this one exchanges blocks with over P2P.">
      {peers.length === 0 ? (
        <p class="empty">No peers connected.</p>
      ) : (
        <ul class="peers">
          {peers.map((p) => (
            <li key={p.id}>
              <code title={p.id}>{p.id.length > 20 ? `${p.id.slice(0, 8)}…${p.id.slice(-8)}` : p.id}</code>{" "}
              <span class="muted">{p.addrs[0] ?? ""}</span>
            </li>
          ))}
        </ul>
      )}
    </Panel>
  );
}

const RELATION: Record<DevnetNode["relation"], { text: string; kind: string }> = {
  self: { text: "this node", kind: "self" },
  same: { text: "agrees", kind: "ok" },
  behind: { text: "behind, same chain", kind: "ok" },
  ahead: { text: "ahead, same chain", kind: "ok" },
  fork: { text: "FORK: different chain", kind: "bad" },
  unreachable: { text: "unreachable", kind: "down" },
  "other-network": { text: "other network", kind: "bad" },
};

/** Every node of the devnet side by side, each compared with this node's chain. */
export function DevnetStrip(props: { s: ExplorerState }) {
  const { s } = props;
  if (!s.info?.devnet) return null;
  const nodes = s.devnet?.nodes ?? [];
  const self = nodes.find((n) => n.relation === "self");
  return (
    <Panel
      title="Devnet nodes"
      id="devnet"
      class="devnet"
      hint="Each node of this devnet, asked by this node every two seconds. A fork between nodes shows here until one chain wins."
    >
      {s.devnetError && <p class="error-text">Could not ask the other nodes: {s.devnetError}</p>}
      <div class="devnet-nodes" data-testid="devnet-nodes">
        {nodes.map((n) => {
          const r = RELATION[n.relation];
          const diff = self?.height !== undefined && n.height !== undefined ? n.height - self.height : 0;
          return (
            <div class={`devnet-node ${r.kind}`} key={n.url} data-url={n.url} data-relation={n.relation}>
              <div class="devnet-url">{n.url.replace(/^https?:\/\//, "") || "this node"}</div>
              <div class={`devnet-rel ${r.kind}`}>
                {r.text}
                {diff !== 0 && n.relation !== "self" && n.relation !== "unreachable"
                  ? ` (${diff > 0 ? "+" : ""}${diff})`
                  : ""}
              </div>
              {n.height !== undefined && n.hash ? (
                <div>
                  <span class="height">#{n.height}</span> <Hash hash={n.hash} />
                </div>
              ) : (
                <div class="muted">{n.error ?? "no answer"}</div>
              )}
              {n.miner !== undefined && (
                <div class="small">
                  <Miner name={n.miner} />
                </div>
              )}
              {n.relation !== "unreachable" && (
                <div class="muted small">
                  {n.miner === undefined
                    ? "no miner"
                    : n.mining
                      ? `mining at ${formatHashRate(n.hashRate ?? 0)}`
                      : "miner idle"}
                  {n.peers !== undefined && ` · ${n.peers} peer${n.peers === 1 ? "" : "s"}`}
                </div>
              )}
            </div>
          );
        })}
      </div>
    </Panel>
  );
}
