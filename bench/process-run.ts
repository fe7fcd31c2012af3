/**
 * The one timed loop of the processBlock benchmarks (bench:chain (a), bench:records (a)): decode + processBlock
 * of every raw block, as the network layer feeds them, into a chain opened on `store` (a fresh one: every
 * block must become the tip). Returns blocks/s; closes the chain, not the store.
 */
import { Chain } from "../src/chain/chain.ts";
import type { ChainStore } from "../src/chain/store.ts";
import { decodeBlock } from "../src/consensus/block.ts";
import { regtest } from "../src/consensus/params.ts";

export const benchNow = (): number => regtest.genesis.header.time + 10_000_000;

export async function processBlocksPerSec(store: ChainStore, raws: Uint8Array[]): Promise<number> {
  const chain = await Chain.open({ params: regtest, store, now: benchNow });
  const t0 = performance.now();
  for (const raw of raws) {
    const r = await chain.processBlock(decodeBlock(raw), raw);
    if (r.status !== "main") throw new Error(`unexpected ${r.status}`);
  }
  const s = (performance.now() - t0) / 1000;
  if (chain.height !== raws.length) throw new Error("not every block connected");
  await chain.close();
  return raws.length / s;
}
