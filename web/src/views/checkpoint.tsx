import { useEffect, useState } from "preact/hooks";
import type { CheckpointView } from "../../../src/api/checkpoint.ts";
import { api } from "../api.ts";
import { Hash, Panel } from "../components.tsx";

/** How often the panel asks the node for its checkpoint (a checkpoint moves once a block). */
const POLL_MS = 3000;

/** A signer's name, shortened when it is a peer id. */
const short = (name: string): string => (name.length > 20 ? `${name.slice(0, 8)}…${name.slice(-6)}` : name);

/**
 * The cosigners of the node's latest witnessed checkpoint (docs/ledger-design.md), and the final one
 * (cosigned by the team's quorum: never reorganised below). Hidden on a node that signs none (no P2P).
 */
export function CheckpointPanel() {
  const [view, setView] = useState<CheckpointView | undefined>();
  useEffect(() => {
    let live = true;
    const ask = (): void => {
      api.checkpoint().then(
        (v) => live && setView(v),
        () => live && setView(undefined),
      );
    };
    ask();
    const t = setInterval(ask, POLL_MS);
    return () => {
      live = false;
      clearInterval(t);
    };
  }, []);
  if (!view) return null;
  const { latest, final } = view;
  const alerts = view.counts.equivocations + view.counts.refusedForks;
  return (
    <Panel
      title="Witnessed checkpoint"
      id="checkpoint"
      hint={`Each node signs the block ${view.depth} below its tip; a checkpoint ${view.quorum || "a quorum of"} configured witnesses cosigned is final: this node never reorganises below it.`}
    >
      <div data-testid="checkpoint">
        {alerts > 0 && (
          <p class="error-text" data-testid="checkpoint-alerts">
            {view.counts.equivocations} equivocation(s), {view.counts.refusedForks} refused fork(s): see
            /api/checkpoint
          </p>
        )}
        {final ? (
          <p data-testid="checkpoint-final" data-height={final.height}>
            final at <span class="height">#{final.height}</span> <Hash hash={final.hash} />, cosigned by{" "}
            {final.cosigners.map(short).join(", ")}
          </p>
        ) : (
          <p class="muted">
            {view.quorum ? "no final checkpoint yet" : "no witnesses configured: nothing is final"}
          </p>
        )}
        {latest ? (
          <div data-testid="checkpoint-latest" data-height={latest.height}>
            latest <span class="height">#{latest.height}</span> <Hash hash={latest.hash} />
            <ul class="peers">
              {latest.signers.map((s) => (
                <li key={s.name} data-signer={s.name}>
                  <code title={s.name}>{short(s.name)}</code>{" "}
                  <span class="muted">{s.witness ? "witness" : "not a listed witness"}</span>
                </li>
              ))}
            </ul>
          </div>
        ) : (
          <p class="muted">no checkpoint yet: the chain is shorter than {view.depth} blocks</p>
        )}
      </div>
    </Panel>
  );
}
