import { Hash, HeightLink, Miner, Panel } from "../components.tsx";
import { ago, clockTime, duration } from "../format.ts";
import { useMarks } from "../light/store.ts";
import { type ExplorerState, mainChainDesc } from "../state.ts";
import { VerifiedMark } from "./light.tsx";

const ROWS = 25;
/** How long a block that just arrived stays highlighted. */
const FRESH_MS = 4000;

/** The main chain, newest block on top; blocks that arrive over the stream slide in highlighted. */
export function ChainList(props: { s: ExplorerState; now: number; spacing: number | undefined }) {
  const { s, now, spacing } = props;
  const rows = mainChainDesc(s, ROWS);
  // Each row held against the chain this browser verified (views/light.tsx).
  const marks = useMarks(rows.map((b) => ({ height: b.height, hash: b.hash })));
  return (
    <Panel
      title="Chain"
      id="chain"
      hint="The main chain, newest first. Δ is the time since the previous block; the target is the pace difficulty steers towards."
    >
      {rows.length === 0 ? (
        <p class="empty">{s.unreachable ? "No data: the node does not answer." : "Loading blocks…"}</p>
      ) : (
        <table class="blocks" data-testid="chain-table">
          <thead>
            <tr>
              <th>height</th>
              <th>hash</th>
              <th>miner</th>
              <th>time</th>
              <th class="num">Δ prev</th>
              <th class="num">records</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((b, i) => {
              const arrived = s.arrived.get(b.hash);
              const fresh = arrived !== undefined && now - arrived < FRESH_MS;
              const slow = spacing !== undefined && b.sincePrev !== null && b.sincePrev > spacing * 2;
              return (
                <tr key={b.hash} class={fresh ? "fresh" : ""} data-hash={b.hash} data-height={b.height}>
                  <td>
                    <HeightLink height={b.height} hash={b.hash} />
                    {i === 0 && <span class="tag tip">tip</span>}
                    <VerifiedMark mark={marks?.get(b.hash)} />
                  </td>
                  <td>
                    <Hash hash={b.hash} />
                  </td>
                  <td>
                    <Miner name={b.miner} />
                  </td>
                  <td title={ago(b.time, now)}>{clockTime(b.time)}</td>
                  <td class={`num ${slow ? "slow" : ""}`}>
                    {b.sincePrev === null ? "—" : `${b.sincePrev >= 0 ? "+" : ""}${duration(b.sincePrev)}`}
                  </td>
                  <td class="num">{b.recordCount}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </Panel>
  );
}
