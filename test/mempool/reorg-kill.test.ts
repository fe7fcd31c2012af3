/**
 * Records a reorg returned to the pool, under SIGKILL. The chain writes a reorg in one batch, and the
 * records of the blocks it disconnected then live only in the pool; before, the pool reached its file on
 * the next 5 s save, so a node killed in between lost them (not in any main-chain block, not pending).
 * Now the reorg saves the pool at once, and a start whose file was saved on a tip that has since left the
 * main chain returns that branch's records (src/mempool/mempool.ts `recover`). Here a real `jbc node`
 * process is killed 0, 5 and 25 ms after answering the block that made it reorg (so before, during or
 * after that save), then started again: every returned record is pending.
 */
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { after, it } from "node:test";
import { type Block, encodeBlock } from "../../src/consensus/block.ts";
import { hashToHex } from "../../src/consensus/header.ts";
import { regtest } from "../../src/consensus/params.ts";
import { type BlockRecord, recordId } from "../../src/consensus/records.ts";
import { makeChild } from "../helpers/blocks.ts";
import { tempDir } from "../helpers/chain.ts";
import { killAll, type NodeProcess, spawnNode } from "../helpers/spawn.ts";

const tmp = tempDir("jbc-reorg-kill-");
after(async () => {
  await killAll();
  rmSync(tmp, { recursive: true, force: true });
});

const data = (text: string): BlockRecord => ({ type: "data", data: new TextEncoder().encode(text) });
const idOf = (r: BlockRecord): string => hashToHex(recordId(r));

async function statusOf(node: NodeProcess, id: string): Promise<string> {
  try {
    return (await node.api.record(id)).status;
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
}

it("keeps the records a reorg returned when the node is killed right after it", {
  timeout: 180_000,
}, async () => {
  const datadir = join(tmp, "node");
  let node = await spawnNode({ name: "victim", datadir, args: ["--no-p2p"] });
  let tip: Block = regtest.genesis;
  const returned: BlockRecord[] = [];
  for (const [round, delayMs] of [0, 5, 25].entries()) {
    // x1 carries four records and becomes the tip; y1 y2 then replace it, y1 carrying the last of them.
    const recs = [0, 1, 2, 3].map((i) => data(`round ${round}, record ${i}`));
    const x1 = makeChild(tip, regtest, { miner: `x${round}`, records: recs });
    const y1 = makeChild(tip, regtest, { miner: `y${round}`, records: [recs[3]!] });
    const y2 = makeChild(y1, regtest, { miner: `y${round}` });
    assert.equal((await node.api.submitBlock(encodeBlock(x1))).status, "main");
    assert.equal((await node.api.submitBlock(encodeBlock(y1))).status, "side");
    assert.equal((await node.api.submitBlock(encodeBlock(y2))).status, "main");
    // The reorg is answered: kill at once, or a few ms later.
    await new Promise((r) => setTimeout(r, delayMs));
    node.proc.kill("SIGKILL");
    await new Promise((r) => node.proc.once("exit", r));
    returned.push(...recs.slice(0, 3));
    tip = y2;

    node = await spawnNode({ name: "victim", datadir, args: ["--no-p2p"] });
    for (const r of returned)
      assert.equal(await statusOf(node, idOf(r)), "pending", `round ${round} (+${delayMs} ms): ${idOf(r)}`);
    assert.equal(await statusOf(node, idOf(recs[3]!)), "confirmed", "y1 carries it");
  }
  await node.stop();
});
