/**
 * processBlock of this checkout against another, interleaved block by block in ONE process: two chains on
 * two fresh LevelDB stores take the same blocks, the order of the two calls alternating per block, and each
 * call is timed on its own. Drift of a shared machine's load then falls on both within microseconds, where
 * bench:paired's whole trials (a few seconds each) still differed by up to 8% between two copies of the same
 * code on this VM. Run it against a copy of this checkout first (A/A) to see the floor of the noise.
 *
 *   npm run bench:interleaved -- /path/to/other/checkout [--blocks=3000] [--rounds=5] [--records=10]
 *
 * Both sides get node:crypto (`useNativeCrypto` of their own checkout), as a node runs. Reported: per round,
 * the median µs per block of each side and their ratio (other / this: above 1 means this checkout is faster);
 * the median ratio over rounds. The last line is the JSON.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { encodeBlock } from "../src/consensus/block.ts";
import { regtest } from "../src/consensus/params.ts";
import { buildChain, dataRecords } from "../test/helpers/net.ts";
import { median } from "./stats.ts";

const args = process.argv.slice(2);
const arg = (name: string, dflt: number): number =>
  Number(args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? dflt);
const other = args.find((a) => !a.startsWith("--"));
if (!other)
  throw new Error("usage: bench/interleaved.ts <other checkout> [--blocks=N] [--rounds=N] [--records=N]");
const BLOCKS = arg("blocks", 3000);
const ROUNDS = arg("rounds", 5);
const RECORDS = arg("records", 10);
const params = regtest;
const now = (): number => params.genesis.header.time + 10_000_000;

/** One checkout's modules, typed by this checkout's files (the other's have the same shape). */
interface Side {
  name: string;
  Chain: typeof import("../src/chain/chain.ts").Chain;
  LevelStore: typeof import("../src/store/level.ts").LevelStore;
  decodeBlock: typeof import("../src/consensus/block.ts").decodeBlock;
}

async function load(name: string, root: string): Promise<Side> {
  const url = (p: string) => pathToFileURL(join(resolve(root), p)).href;
  const { useNativeCrypto } = (await import(url("src/node/crypto.ts"))) as { useNativeCrypto: () => void };
  useNativeCrypto();
  const { Chain } = (await import(url("src/chain/chain.ts"))) as Pick<Side, "Chain">;
  const { LevelStore } = (await import(url("src/store/level.ts"))) as Pick<Side, "LevelStore">;
  const { decodeBlock } = (await import(url("src/consensus/block.ts"))) as Pick<Side, "decodeBlock">;
  return { name, Chain, LevelStore, decodeBlock };
}

const sides = [await load("this", "."), await load("other", other)];
const raws = buildChain(params, BLOCKS, params.genesis, {
  records: (h) => dataRecords(h, RECORDS, 100),
}).map(encodeBlock);

/** One round: both sides on fresh stores, block i to each in alternating order; µs per call. */
async function round(r: number): Promise<number[][]> {
  const open = await Promise.all(
    sides.map(async (s) => {
      const dir = await mkdtemp(join(tmpdir(), "jbc-interleaved-"));
      const store = await s.LevelStore.open(dir, params);
      const chain = await s.Chain.open({ params, store, now });
      return { s, dir, store, chain };
    }),
  );
  const times: number[][] = sides.map(() => []);
  for (let i = 0; i < raws.length; i++) {
    for (let k = 0; k < 2; k++) {
      const j = (i + r + k) % 2;
      const o = open[j]!;
      const t0 = performance.now();
      const res = await o.chain.processBlock(o.s.decodeBlock(raws[i]!), raws[i]!);
      times[j]!.push((performance.now() - t0) * 1000);
      if (res.status !== "main") throw new Error(`${o.s.name}: block ${i} was ${res.status}`);
    }
  }
  for (const o of open) {
    await o.chain.close();
    await o.store.close();
    await rm(o.dir, { recursive: true, force: true });
  }
  return times;
}

const load0 = loadavg()[0]!;
await round(1); // warm-up, uncounted
const ratios: number[] = [];
const perBlock: number[][] = [[], []];
for (let r = 0; r < ROUNDS; r++) {
  const t = await round(r);
  const [a, b] = [median(t[0]!), median(t[1]!)];
  perBlock[0]!.push(a);
  perBlock[1]!.push(b);
  ratios.push(b / a);
  process.stderr.write(
    `round ${r}: this ${a.toFixed(1)} µs, other ${b.toFixed(1)} µs, other/this ${(b / a).toFixed(3)}\n`,
  );
}
const result = {
  bench: "interleaved",
  other: resolve(other),
  blocks: BLOCKS,
  records: RECORDS,
  rounds: ROUNDS,
  processblock_us_this: Math.round(median(perBlock[0]!) * 10) / 10,
  processblock_us_other: Math.round(median(perBlock[1]!) * 10) / 10,
  other_over_this: Math.round(median(ratios) * 1000) / 1000,
  ratio_min: Math.round(Math.min(...ratios) * 1000) / 1000,
  ratio_max: Math.round(Math.max(...ratios) * 1000) / 1000,
  load_1m_start: Math.round(load0 * 100) / 100,
  load_1m_end: Math.round(loadavg()[0]! * 100) / 100,
};
process.stdout.write(`${JSON.stringify(result)}\n`);
