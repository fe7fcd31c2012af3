import { Counter, Gauge, type Registry } from "prom-client";
import type { ApiBackend } from "./backend.ts";
import type { CheckpointView } from "./checkpoint.ts";

/** Counters name → the witness count it follows (docs/operations.md, "Witnessed checkpoints"). */
const FAMILIES: Array<[string, string, keyof CheckpointView["counts"]]> = [
  ["jbc_checkpoints_signed_total", "Checkpoints this node signed", "signed"],
  ["jbc_checkpoint_cosignatures_total", "Cosignatures received by gossip (valid or not)", "received"],
  [
    "jbc_checkpoint_forged_total",
    "Cosignatures refused: malformed or a signature that does not verify",
    "forged",
  ],
  [
    "jbc_checkpoint_equivocations_total",
    "Conflicting checkpoints signed by a configured witness",
    "equivocations",
  ],
  [
    "jbc_checkpoint_refused_forks_total",
    "Blocks refused for forking below the final checkpoint",
    "refusedForks",
  ],
  ["jbc_checkpoints_final_total", "Checkpoints made final by the witnesses' quorum", "finalized"],
];

/**
 * The witness's families (src/witness), read from GET /api/checkpoint's view when scraped: counters
 * that follow its counts, and the final checkpoint's height. Absent counts (no witness) read as 0.
 */
export function witnessMetrics(r: { registers: Registry[] }, backend: Pick<ApiBackend, "checkpoint">): void {
  for (const [name, help, key] of FAMILIES) {
    let seen = 0;
    new Counter({
      name,
      help,
      ...r,
      collect() {
        const n = backend.checkpoint?.()?.counts[key] ?? 0;
        if (n > seen) this.inc(n - seen);
        seen = Math.max(seen, n);
      },
    });
  }
  new Gauge({
    name: "jbc_checkpoint_final_height",
    help: "Height of the final (quorum-cosigned) checkpoint; -1 without one",
    ...r,
    collect() {
      this.set(backend.checkpoint?.()?.final?.height ?? -1);
    },
  });
}
