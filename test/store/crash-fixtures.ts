/**
 * The block sequence the crash test feeds to a node, and the file format the parent hands to the child.
 *
 * Delivery order (regtest: every block has the same work, so work = height):
 *
 *   genesis - a1 .. a60                              main chain
 *               a55 - b56 .. b61                     b61 out-works a60: reorg of depth 5
 *               a60 - a61 .. a63                     a62 out-works b61: reorg of depth 6 back
 *               a30 - c31 .. c65                     c64 out-works a63: reorg of depth 33
 *               c60 - d61 .. d68                     delivered d68, d67 .. d62 (orphans), then d61: the orphans
 *                                                    connect one batch each, d66 reorgs (depth 5)
 *               c50 - e51 .. e70                     e69 out-works d68: reorg of depth 18
 *               e66 - f67 .. f71                     f67 carries a bad signature: f71 would out-work e70, so the
 *                                                    branch is validated, f67 is marked invalid, the tip stays
 *               e70 - g71, e71, e72, g72, g73,       a race, in that order: ties stay side; e72, g73, e74, g75
 *                     e73, e74, g74, g75             reorg by depth 1, 2, 3, 4
 *               a20 - i21 i22                        delivered i22, i21: an orphan on a side branch
 *               g75 - h76 .. h79                     delivered h77, h78, h79 (orphans), then h76
 *               h79 - z80 .. z100                    the final, strictly heaviest chain
 *
 * Every block carries records (see `records`), some shared by the blocks of all branches at a height.
 */
import { Chain } from "../../src/chain/chain.ts";
import { type Block, encodeBlock } from "../../src/consensus/block.ts";
import { regtest } from "../../src/consensus/params.ts";
import type { BlockRecord } from "../../src/consensus/records.ts";
import { signRecord } from "../../src/consensus/records.ts";
import { LevelStore } from "../../src/store/level.ts";
import { Scenario } from "../helpers/chain.ts";

/** The clock of every node in the crash test: a day after genesis, so every block time is in the past. */
export const CRASH_CLOCK = regtest.genesis.header.time + 86_400;

const utf8 = new TextEncoder();

const author = new Uint8Array(32).fill(9);

/**
 * Three ~200-byte data records per block, so each batch carries a realistic body; a signed one (the author
 * index); and one every branch shares at that height ("at <height>"), so each reorg moves that record's
 * index keys from the disconnected block to the connected one in the same batch (the record index is
 * checked by verifyChain after every kill). Every third height also carries 36 small records, so that
 * block has more than 32 and its batch writes the merkle upper levels with its body (checked by verify too).
 */
function records(name: string): BlockRecord[] {
  const data = [0, 1, 2].map(
    (j): BlockRecord => ({ type: "data", data: utf8.encode(`${name}/${j}/`.padEnd(200, "x")) }),
  );
  const height = Number(/\d+$/.exec(name)?.[0]);
  const many =
    height % 3 === 0
      ? Array.from(
          { length: 36 },
          (_, j): BlockRecord => ({ type: "data", data: utf8.encode(`${name}+${j}`) }),
        )
      : [];
  return [
    ...data,
    ...many,
    signRecord(utf8.encode(`${name} signed`), author),
    { type: "data", data: utf8.encode(`at ${height}`) },
  ];
}

export interface CrashScenario {
  /** Block names in delivery order. */
  names: string[];
  blocks: Block[];
  raws: Uint8Array[];
  /** Display hash by delivery index. */
  hashes: string[];
  scenario: Scenario;
}

/** Builds the delivery sequence above. Deterministic: the same blocks, byte for byte, on every run. */
export function buildCrashScenario(): CrashScenario {
  const s = new Scenario(regtest);
  const order: string[] = [];
  const add = (name: string, parent: string, extra: BlockRecord[] = []): string => {
    s.add(name, parent, { records: [...records(name), ...extra] });
    return name;
  };
  /** Mines `${p}${from}..${p}${to}` on `parent`; returns the names in chain order. */
  const branch = (p: string, parent: string, from: number, to: number): string[] => {
    const out: string[] = [];
    let prev = parent;
    for (let i = from; i <= to; i++) {
      prev = add(`${p}${i}`, prev);
      out.push(prev);
    }
    return out;
  };

  order.push(...branch("a", "genesis", 1, 60));
  order.push(...branch("b", "a55", 56, 61));
  order.push(...branch("a", "a60", 61, 63));
  order.push(...branch("c", "a30", 31, 65));
  order.push(...branch("d", "c60", 61, 68).reverse());
  // d61 went last after reversing: the orphans d62..d68 wait for it.
  order.push(...branch("e", "c50", 51, 70));

  const bad = signRecord(utf8.encode("f67 signed"), new Uint8Array(32).fill(7));
  add("f67", "e66", [{ ...bad, data: utf8.encode("f67 tampered") }]);
  order.push("f67", ...branch("f", "f67", 68, 71));

  for (const [name, parent] of [
    ["g71", "e70"],
    ["e71", "e70"],
    ["e72", "e71"],
    ["g72", "g71"],
    ["g73", "g72"],
    ["e73", "e72"],
    ["e74", "e73"],
    ["g74", "g73"],
    ["g75", "g74"],
  ] as const) {
    order.push(add(name, parent));
  }
  order.push(...branch("i", "a20", 21, 22).reverse());
  const h = branch("h", "g75", 76, 79);
  order.push(...h.slice(1), h[0]!);
  order.push(...branch("z", "h79", 80, 100));

  const blocks = order.map((n) => s.get(n));
  const raws = blocks.map(encodeBlock);
  const hashes = order.map((n) => s.hash(n));
  return { names: order, blocks, raws, hashes, scenario: s };
}

/** What a node that was never killed has after each delivery, and in between. */
export interface Reference {
  /** Tip after delivery index i has been processed; tipAfter[-1] is represented by `genesisTip`. */
  tipAfter: string[];
  genesisTip: string;
  /** Tips committed while delivery index i was being processed (orphan connection: one batch each). */
  tipsDuring: string[][];
  /** Delivery indices whose processing disconnected main-chain blocks. */
  reorgAt: Set<number>;
  /** How long processBlock took for each delivery, in ms (to aim kills inside the slow ones). */
  ms: number[];
}

/** Runs the deliveries through a real Chain on a real LevelStore in `dir`, recording every committed tip. */
export async function referenceRun(
  dir: string,
  raws: readonly Uint8Array[],
  blocks: readonly Block[],
): Promise<Reference> {
  const store = await LevelStore.open(dir, regtest);
  const chain = await Chain.open({ params: regtest, store, now: () => CRASH_CLOCK });
  const ref: Reference = {
    tipAfter: [],
    genesisTip: chain.tip.hash,
    tipsDuring: [],
    reorgAt: new Set(),
    ms: [],
  };
  let current = 0;
  chain.on("tip", (ev) => {
    ref.tipsDuring[current]!.push(ev.tip.hash);
    if (ev.reorg) ref.reorgAt.add(current);
  });
  try {
    for (let i = 0; i < raws.length; i++) {
      current = i;
      ref.tipsDuring[i] = [];
      const t0 = performance.now();
      await chain.processBlock(blocks[i]!, { raw: raws[i]!, requested: true }).catch(() => undefined);
      ref.ms[i] = performance.now() - t0;
      ref.tipAfter[i] = chain.tip.hash;
    }
  } finally {
    await chain.close();
    await store.close();
  }
  return ref;
}

/** The file the parent hands the child: each block as a u32 big-endian length and its bytes. */
export function writeBlockFile(raws: readonly Uint8Array[]): Uint8Array {
  const parts: Buffer[] = [];
  for (const r of raws) {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(r.length);
    parts.push(len, Buffer.from(r));
  }
  return Buffer.concat(parts);
}

export function readBlockFile(bytes: Uint8Array): Uint8Array[] {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Uint8Array[] = [];
  for (let o = 0; o < buf.length; ) {
    const n = buf.readUInt32BE(o);
    out.push(Uint8Array.from(buf.subarray(o + 4, o + 4 + n)));
    o += 4 + n;
  }
  return out;
}

/** The kill times' generator: the project's one seeded mulberry32 (src/util/random.ts). */
export { seededRandom as prng } from "../../src/util/random.ts";
