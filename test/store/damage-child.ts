/**
 * Child process of test/store/level.test.ts: opens a damaged store the way a node and `jbc chain verify`
 * would, and prints one JSON line saying how the damage showed up. It runs in its own process because
 * LevelDB 1.20 (inside classic-level) can abort the process on some damaged keys, which must not take the
 * test runner down with it.
 *
 *   node --import tsx test/store/damage-child.ts <pristine-dir> <damaged-dir>...
 *
 * Output, one line per damaged dir, in order: {"stage":"store"|"chain"|"verify-threw"|"verify"|"none",
 * "code"?, "message"?, "problems"?, "identical"?}. When nothing complains ("none"), every key and value is
 * compared with the pristine copy: a harmless hit (unused bytes) leaves them identical; anything else
 * would be silently wrong data. If the process dies, the parent blames the first dir without a line.
 */
import { writeSync } from "node:fs";
import { ClassicLevel } from "classic-level";
import { Chain } from "../../src/chain/chain.ts";
import { StoreError } from "../../src/chain/store.ts";
import { verifyChain } from "../../src/chain/verify.ts";
import { toHex } from "../../src/consensus/bytes.ts";
import { regtest } from "../../src/consensus/params.ts";
import { LevelStore } from "../../src/store/level.ts";

const [pristine, ...damaged] = process.argv.slice(2);
if (!pristine || damaged.length === 0) {
  process.stderr.write("usage: damage-child.ts <pristine-dir> <damaged-dir>...\n");
  process.exit(2);
}
const now = (): number => regtest.genesis.header.time + 86_400;

type Outcome = {
  stage: "store" | "chain" | "verify-threw" | "verify" | "none";
  code?: string;
  message?: string;
  problems?: string[];
  identical?: boolean;
};

function failed(stage: Outcome["stage"], err: unknown): Outcome {
  if (!(err instanceof StoreError)) throw err;
  return { stage, code: err.code, message: err.message };
}

async function contents(path: string): Promise<Map<string, string>> {
  const db = new ClassicLevel<Uint8Array, Uint8Array>(path, { keyEncoding: "view", valueEncoding: "view" });
  await db.open({ createIfMissing: false });
  const out = new Map<string, string>();
  for await (const [k, v] of db.iterator()) out.set(toHex(k), toHex(v));
  await db.close();
  return out;
}

async function probe(dir: string): Promise<Outcome> {
  let store: LevelStore;
  try {
    store = await LevelStore.open(dir, regtest, { create: false });
  } catch (err) {
    return failed("store", err);
  }
  try {
    let chain: Chain;
    try {
      chain = await Chain.open({ params: regtest, store, now });
    } catch (err) {
      return failed("chain", err);
    }
    await chain.close();
    try {
      const v = await verifyChain(store, regtest);
      if (!v.ok) return { stage: "verify", problems: v.problems };
    } catch (err) {
      return failed("verify-threw", err);
    }
  } finally {
    await store.close();
  }
  const a = await contents(dir);
  const identical = a.size === reference.size && [...a].every(([k, v]) => reference.get(k) === v);
  return { stage: "none", identical };
}

const reference = await contents(pristine);
for (const dir of damaged) writeSync(1, `${JSON.stringify(await probe(dir))}\n`);
