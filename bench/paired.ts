/**
 * Paired run of this checkout against another one (`git worktree add` or `git archive` of the commit to
 * compare with, sharing this node_modules), in ONE process, trial by trial, so that a shared machine's
 * load drifts over both alike. On 2 busy cores the whole-script benchmarks (bench:chain, bench:net) swing
 * by half between runs; the ratio of neighbouring trials does not.
 *
 *   npm run bench:paired -- /path/to/other/checkout [--pairs=7] [--blocks=3000] [--variants=base,native]
 *
 * Workloads, each on a fresh LevelDB in a temp dir: decodeBlock + processBlock per block (as gossip and the
 * HTTP API feed blocks), and decodeBlock + processBlocks in batches of 500 (as sync imports), for blocks
 * with 10 data records of 100 bytes and for miner-record-only blocks. Variants: `base` (the other
 * checkout, with node:crypto handed in when it has src/node/crypto.ts), `native` (this one, node:crypto handed in as the node does) and `noble` (this one, consensus's
 * own pure-JS hashing). Each round runs the three in a rotating order. Reported, for wall time (`_wall`) and
 * for the process's CPU time (`_cpu`): median blocks/s per variant and the median over rounds of each
 * round's ratio to `base`. The last line is the JSON.
 *
 * `--variants=base,native` runs only those (base first): comparing two trees, `noble` only costs time, and
 * it may bias against this checkout: its trials swap other hash functions into this checkout's consensus
 * modules, so their call sites see two functions where base's see one (an engineer saw native fall behind
 * base with noble in the rotation). Report two-tree comparisons with `--variants=base,native`.
 */
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
import { decodeBlock, encodeBlock } from "../src/consensus/block.ts";
import { useSha256 } from "../src/consensus/hash.ts";
import { regtest } from "../src/consensus/params.ts";
import { ed25519Verify, useEd25519Verify } from "../src/consensus/records.ts";
import { useNativeCrypto } from "../src/node/crypto.ts";
import { buildChain, dataRecords } from "../test/helpers/net.ts";
import { median } from "./stats.ts";

type ChainModule = typeof import("../src/chain/chain.ts");
type StoreModule = typeof import("../src/store/level.ts");
type BlockModule = typeof import("../src/consensus/block.ts");
interface Impl {
  Chain: ChainModule["Chain"];
  LevelStore: StoreModule["LevelStore"];
  decodeBlock: BlockModule["decodeBlock"];
  /** Sets the process up for this variant before a trial. */
  setup: () => void;
}

const args = process.argv.slice(2);
const arg = (name: string, dflt: number): number =>
  Number(args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? dflt);
const other = args.find((a) => !a.startsWith("--"));
if (!other) {
  throw new Error(
    "usage: bench/paired.ts <other checkout> [--pairs=N] [--blocks=N] [--variants=base,native]",
  );
}
const PAIRS = arg("pairs", 7);
const BLOCKS = arg("blocks", 3000);
const BATCH = 500;
const params = regtest;
const now = (): number => params.genesis.header.time + 10_000_000;

async function load(root: string): Promise<Pick<Impl, "Chain" | "LevelStore" | "decodeBlock">> {
  const url = (p: string) => pathToFileURL(join(resolve(root), p)).href;
  const { Chain } = (await import(url("src/chain/chain.ts"))) as ChainModule;
  const { LevelStore } = (await import(url("src/store/level.ts"))) as StoreModule;
  const { decodeBlock } = (await import(url("src/consensus/block.ts"))) as BlockModule;
  return { Chain, LevelStore, decodeBlock };
}

const here = {
  Chain: (await import("../src/chain/chain.ts")).Chain,
  LevelStore: (await import("../src/store/level.ts")).LevelStore,
  decodeBlock,
};
/**
 * The other checkout as its node runs it: a checkout with src/node/crypto.ts hands node:crypto to its own
 * consensus modules (separate module instances from this checkout's); an older one (before issue 8) hashed
 * with node:crypto built in.
 */
async function otherSetup(root: string): Promise<() => void> {
  const file = join(resolve(root), "src/node/crypto.ts");
  if (!existsSync(file)) return () => {};
  const mod = (await import(pathToFileURL(file).href)) as { useNativeCrypto: () => void };
  return mod.useNativeCrypto;
}

const variants: Record<string, Impl> = {
  base: { ...(await load(other)), setup: await otherSetup(other) },
  native: { ...here, setup: useNativeCrypto },
  noble: {
    ...here,
    setup: () => {
      useSha256(nobleSha256);
      useEd25519Verify(ed25519Verify);
    },
  },
};

/**
 * One trial on a fresh store: blocks per second of wall time, and per second of CPU time of the whole
 * process (every thread, LevelDB's included). On a machine busier than its cores, CPU time counts the work
 * and not the wait for a core, so it is the steadier of the two.
 */
async function trial(
  impl: Impl,
  raws: Uint8Array[],
  batched: boolean,
): Promise<{ wall: number; cpu: number }> {
  impl.setup();
  const dir = await mkdtemp(join(tmpdir(), "jbc-paired-"));
  const store = await impl.LevelStore.open(dir, params);
  const chain = await impl.Chain.open({ params, store, now });
  try {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    if (batched) {
      for (let i = 0; i < raws.length; i += BATCH) {
        const items = raws.slice(i, i + BATCH).map((raw) => ({ block: impl.decodeBlock(raw), raw }));
        await chain.processBlocks(items);
      }
    } else {
      for (const raw of raws) await chain.processBlock(impl.decodeBlock(raw), raw);
    }
    const wall = (raws.length * 1000) / (performance.now() - t0);
    const c = process.cpuUsage(c0);
    const cpu = (raws.length * 1e6) / (c.user + c.system);
    if (chain.height !== raws.length) throw new Error(`chain at ${chain.height}, expected ${raws.length}`);
    return { wall, cpu };
  } finally {
    await chain.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const chosen = args.find((a) => a.startsWith("--variants="))?.slice("--variants=".length);
const names = chosen ? chosen.split(",").filter(Boolean) : Object.keys(variants);
const unknown = names.filter((n) => !(n in variants));
if (unknown.length > 0 || names[0] !== "base" || new Set(names).size !== names.length) {
  throw new Error(`--variants: base first, then any of native, noble (got ${chosen})`);
}
const result: Record<string, number | string> = {
  bench: "paired",
  other: resolve(other),
  pairs: PAIRS,
  blocks: BLOCKS,
  variants: names.join(","),
};
const load0 = loadavg()[0]!;
// The test chains are built with this checkout's consensus code. Built with its pure-JS hashing (the
// default), that code would see @noble's Uint8Arrays there and node:crypto's Buffers in the trials, and
// run slower in them than the other checkout's, which sees only Buffers: an A/A run (this checkout against
// a copy of itself) gave 0.84-0.98. So this checkout hashes as the node does from the start.
useNativeCrypto();
for (const [label, records] of [
  ["data_10x100", 10],
  ["miner_only", 0],
] as const) {
  const raws = buildChain(
    params,
    BLOCKS,
    params.genesis,
    records ? { records: (h) => dataRecords(h, records, 100) } : {},
  ).map(encodeBlock);
  for (const [mode, batched] of [
    ["processblock", false],
    ["processblocks", true],
  ] as const) {
    // Uncounted warm-up of every variant.
    for (const n of names) await trial(variants[n]!, raws.slice(0, 500), batched);
    const rates: Record<string, { wall: number; cpu: number }[]> = Object.fromEntries(
      names.map((n) => [n, []]),
    );
    for (let r = 0; r < PAIRS; r++) {
      for (let k = 0; k < names.length; k++) {
        const n = names[(r + k) % names.length]!;
        rates[n]!.push(await trial(variants[n]!, raws, batched));
      }
    }
    for (const m of ["wall", "cpu"] as const) {
      const key = `${mode}_${label}_${m}`;
      const of = (n: string) => rates[n]!.map((x) => x[m]);
      for (const n of names) result[`${key}_${n}`] = Math.round(median(of(n)));
      for (const n of names.slice(1)) {
        const ratios = of(n).map((x, i) => x / of("base")[i]!);
        result[`${key}_${n}_over_base`] = Math.round(median(ratios) * 1000) / 1000;
      }
      process.stderr.write(
        `${key}: ${names
          .map(
            (n) =>
              `${n} ${of(n)
                .map((x) => Math.round(x))
                .join("/")}`,
          )
          .join(", ")}\n`,
      );
    }
  }
}
result["load_1m_start"] = Math.round(load0 * 100) / 100;
result["load_1m_end"] = Math.round(loadavg()[0]! * 100) / 100;
result["cores"] = cpus().length;
process.stdout.write(`${JSON.stringify(result)}\n`);
