/**
 * One soak attacker in its own process, so its CPU (mining attack blocks, generating inputs) never delays
 * the soak's health probes:
 *
 *   node --import tsx scripts/soak/attacker.ts <blocks|flood|reads|cross-site|inputs> '<AttackConfig JSON>'
 *
 * Started by scripts/soak/main.ts with an IPC channel: it reports its counters every second
 * (`{ kind, counts }`) and once more when it ends; it stops on the message "stop", on SIGINT or SIGTERM,
 * and when the channel closes (the soak is gone), so it never outlives the soak.
 */
import { setMaxListeners } from "node:events";
import { blockAttack } from "./attacks/blocks.ts";
import { crossSiteAttack, floodAttack, inputAttack, readAttack } from "./attacks/http.ts";
import { type Attack, type AttackConfig, Counts } from "./attacks/types.ts";

export const ATTACKS: Record<string, Attack> = {
  blocks: blockAttack,
  flood: floodAttack,
  reads: readAttack,
  "cross-site": crossSiteAttack,
  inputs: inputAttack,
};

/** Runs the attack `kind` until told to stop, reporting over IPC; exits 0, or 1 if the attack threw. */
async function main(kind: string, cfg: AttackConfig): Promise<void> {
  const attack = ATTACKS[kind];
  if (!attack) throw new Error(`unknown attack ${kind}`);
  const counts = new Counts();
  const ctl = new AbortController();
  // Every concurrent request and pause of the attack listens to this one signal.
  setMaxListeners(256, ctl.signal);
  const stop = (): void => ctl.abort();
  process.on("message", (m) => m === "stop" && stop());
  process.on("disconnect", stop);
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  const report = (): Promise<void> =>
    new Promise((resolve) => {
      if (!process.connected || !process.send) return resolve();
      process.send({ kind, counts: counts.snapshot() }, undefined, {}, () => resolve());
    });
  const timer = setInterval(() => void report(), 1000);
  let code = 0;
  try {
    await attack(cfg, counts, ctl.signal);
  } catch (err) {
    process.stderr.write(`soak attacker ${kind}: ${err instanceof Error ? err.stack : String(err)}\n`);
    counts.add(`${kind} crashed`);
    code = 1;
  }
  clearInterval(timer);
  // The last counters must reach the soak before the channel closes.
  await report();
  if (process.connected) process.disconnect();
  process.exit(code);
}

if (process.argv[1] === import.meta.filename) {
  await main(process.argv[2] ?? "", JSON.parse(process.argv[3] ?? "{}") as AttackConfig);
}
