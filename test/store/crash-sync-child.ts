/**
 * Child process of test/store/crash-sync.test.ts: a node syncing a long chain through processBlocks (the
 * batched path the P2P sync takes), killed by the parent with SIGKILL at random moments.
 *
 *   node --import tsx test/store/crash-sync-child.ts <datadir> <blocks-file> <chunk>
 *
 * Feeds the file's blocks to processBlocks in chunks of <chunk>; blocks an earlier life committed come back
 * as "duplicate", every other one must join the main chain. After each call settles it writes, with a
 * synchronous write, one line for the chunk:
 *
 *   ok <index of its last block> <that block's hash>
 *
 * so a line the parent has read means every block up to that index had committed before the kill; "done"
 * at the end.
 */
import { readFileSync, writeSync } from "node:fs";
import { Chain } from "../../src/chain/chain.ts";
import { decodeBlock } from "../../src/consensus/block.ts";
import { BlockError } from "../../src/consensus/errors.ts";
import { headerHash } from "../../src/consensus/header.ts";
import { regtest } from "../../src/consensus/params.ts";
import { LevelStore } from "../../src/store/level.ts";
import { CRASH_CLOCK, readBlockFile } from "./crash-fixtures.ts";

const [dir, file, chunkArg] = process.argv.slice(2);
if (!dir || !file || !chunkArg) {
  process.stderr.write("usage: crash-sync-child.ts <datadir> <blocks-file> <chunk>\n");
  process.exit(2);
}
const chunk = Number(chunkArg);
const raws = readBlockFile(readFileSync(file));
const store = await LevelStore.open(dir, regtest);
const chain = await Chain.open({ params: regtest, store, now: () => CRASH_CLOCK });
writeSync(1, "open\n");
for (let from = 0; from < raws.length; from += chunk) {
  const items = raws.slice(from, from + chunk).map((raw) => ({ block: decodeBlock(raw), raw }));
  const results = await chain.processBlocks(items);
  const bad = results.findIndex(
    (r) => r instanceof BlockError || (r.status !== "main" && r.status !== "duplicate"),
  );
  if (bad >= 0) {
    const r = results[bad]!;
    process.stderr.write(`block ${from + bad}: ${r instanceof BlockError ? r.message : r.status}\n`);
    process.exit(1);
  }
  // One short line per chunk: a pipe the parent is slow to drain never fills up (writeSync would EAGAIN).
  writeSync(1, `ok ${from + results.length - 1} ${headerHash(items[results.length - 1]!.block.header)}\n`);
}
await chain.close();
await store.close();
writeSync(1, "done\n");
