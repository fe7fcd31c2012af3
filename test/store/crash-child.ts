/**
 * Child process of test/store/crash.test.ts: a node that the parent kills with SIGKILL at random moments.
 *
 *   node --import tsx test/store/crash-child.ts <datadir> <blocks-file>
 *
 * Opens (or creates) the store, then feeds every block of the file to processBlock in file order; blocks
 * committed by an earlier life come back as "duplicate" and cost nothing, and orphans (memory only) are
 * pooled again. After each processBlock settles it writes one line to stdout with a synchronous write, so a
 * line the parent has read means the call had committed before the kill:
 *
 *   ok <index> <block hash> <tip hash> <status>     status: main | side | orphan | duplicate | invalid:<CODE>
 *
 * and "done" at the end. Any other failure goes to stderr with exit code 1.
 *
 * The parent paces it: a stdin line "go <n>" allows deliveries up to index n. That lets the parent start one
 * chosen delivery (say, the block that triggers a deep reorg) at a moment it knows, and kill the child a
 * measured number of microseconds into it. If stdin closes (the parent died), the child exits.
 */
import { readFileSync, writeSync } from "node:fs";
import { createInterface } from "node:readline";
import { Chain } from "../../src/chain/chain.ts";
import { decodeBlock } from "../../src/consensus/block.ts";
import { BlockError } from "../../src/consensus/errors.ts";
import { headerHash } from "../../src/consensus/header.ts";
import { regtest } from "../../src/consensus/params.ts";
import { LevelStore } from "../../src/store/level.ts";
import { CRASH_CLOCK, readBlockFile } from "./crash-fixtures.ts";

const [dir, file] = process.argv.slice(2);
if (!dir || !file) {
  process.stderr.write("usage: crash-child.ts <datadir> <blocks-file>\n");
  process.exit(2);
}

let allowed = -1;
let wake: (() => void) | undefined;
const control = createInterface({ input: process.stdin });
control.on("line", (line) => {
  const m = /^go (\d+)$/.exec(line);
  if (m) allowed = Math.max(allowed, Number(m[1]));
  wake?.();
});
control.on("close", () => process.exit(3));
const permit = async (i: number): Promise<void> => {
  while (i > allowed) await new Promise<void>((resolve) => (wake = resolve));
};

const raws = readBlockFile(readFileSync(file));
const store = await LevelStore.open(dir, regtest);
const chain = await Chain.open({ params: regtest, store, now: () => CRASH_CLOCK });
for (let i = 0; i < raws.length; i++) {
  await permit(i);
  const raw = raws[i]!;
  const block = decodeBlock(raw);
  let status: string;
  try {
    // Asked for, as a sync delivers blocks: the scenario stores deep side branches (docs/protocol.md,
    // "Blocks nobody asked for": offered unasked they would be kept as headers only).
    status = (await chain.processBlock(block, { raw, requested: true })).status;
  } catch (err) {
    if (!(err instanceof BlockError)) throw err;
    status = `invalid:${err.code}`;
  }
  writeSync(1, `ok ${i} ${headerHash(block.header)} ${chain.tip.hash} ${status}\n`);
}
await chain.close();
await store.close();
writeSync(1, "done\n");
control.removeAllListeners("close");
control.close();
