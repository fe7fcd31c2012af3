import { useMemo, useState } from "preact/hooks";
import { Miner, Panel, Segmented } from "../components.tsx";
import { minerColour } from "../format.ts";
import { type ExplorerState, mainChainDesc } from "../state.ts";

type Window = 20 | 100 | "all";
const WINDOWS: readonly { value: Window; label: string }[] = [
  { value: 20, label: "last 20" },
  { value: 100, label: "last 100" },
  { value: "all", label: "all" },
];

export interface Tally {
  miner: string;
  won: number;
}

/** Blocks won per miner among the given main-chain blocks (genesis excluded: nobody raced for it). */
export function tally(blocks: readonly { height: number; miner: string }[]): Tally[] {
  const counts = new Map<string, number>();
  for (const b of blocks) if (b.height > 0) counts.set(b.miner, (counts.get(b.miner) ?? 0) + 1);
  return [...counts]
    .map(([miner, won]) => ({ miner, won }))
    .sort((a, b) => b.won - a.won || a.miner.localeCompare(b.miner));
}

/** Who wins the blocks: the original's "port 5000 won 9 blocks, port 5001 won 7", as a bar chart. */
export function Race(props: { s: ExplorerState }) {
  const { s } = props;
  const [win, setWin] = useState<Window>(20);
  // The page re-renders every second for its clocks; the tally only changes with the chain.
  const { rows, counted, top } = useMemo(() => {
    const chain = mainChainDesc(s, win === "all" ? Number.POSITIVE_INFINITY : win);
    return {
      rows: tally(chain),
      counted: chain.filter((b) => b.height > 0).length,
      top: chain[0]?.height ?? 0,
    };
  }, [s.main, win]);
  const tip = s.status?.tip.height ?? top;
  const max = Math.max(1, ...rows.map((r) => r.won));
  const incomplete = win === "all" && s.loadedFrom > 0;
  return (
    <Panel
      title="The race"
      id="race"
      actions={<Segmented label="window" value={win} options={WINDOWS} onChange={setWin} />}
      hint="Blocks on the main chain won by each miner. A block that went stale earns nothing."
    >
      <p class="race-summary" data-testid="race-summary">
        {rows.length === 0
          ? "No mined blocks yet."
          : `${rows.map((r) => `${r.miner} won ${r.won} block${r.won === 1 ? "" : "s"}`).join(", ")} (of ${counted}${
              win === "all" ? "" : ` up to #${tip}`
            }${incomplete ? `, still loading below #${s.loadedFrom}` : ""})`}
      </p>
      <div class="bars" data-testid="race-bars">
        {rows.map((r) => (
          <div class="bar-row" key={r.miner} data-miner={r.miner} data-won={r.won}>
            <div class="bar-label">
              <Miner name={r.miner} />
            </div>
            <div class="bar-track">
              <div
                class="bar"
                style={{ width: `${(100 * r.won) / max}%`, background: minerColour(r.miner) }}
              />
            </div>
            <div class="bar-value">
              {r.won} <span class="muted">({counted ? Math.round((100 * r.won) / counted) : 0}%)</span>
            </div>
          </div>
        ))}
      </div>
    </Panel>
  );
}
