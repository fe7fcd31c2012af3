/**
 * The soak's block attacker (issue 17, "Side-branch spam" and "Pools that amplify"): blocks nobody asked
 * for, posted to `POST /api/blocks`, which needs no token. All are valid devnet proof of work at the
 * network's limit (about 2^16 hashes, milliseconds with the native kernel), so they cost the attacker
 * almost nothing:
 *   - side: siblings on a cheap fork from genesis (bench/light-fixture.ts's chain: blocks 1 and 2 at the
 *     genesis bits, cached; from block 3 ASERT asks only the limit), each with a body of `blockKb`;
 *   - future: blocks stamped minutes to an hour ahead (TIME_TOO_NEW: the future-block pool);
 *   - orphan: blocks on a parent nobody has (the orphan pool).
 * Records are data records of 20 to 1,000 bytes, so a body holds a few hundred of them.
 */
import { randomBytes } from "node:crypto";
import { devnetHeaderFixture, fixtureBlock, fixtureTime } from "../../../bench/light-fixture.ts";
import { type Block, encodeBlock } from "../../../src/consensus/block.ts";
import { bitsToTarget } from "../../../src/consensus/compact.ts";
import { anchorFromBlockOne, requiredBits } from "../../../src/consensus/difficulty.ts";
import { decodeHeader, encodeHeader, HEADER_SIZE, headerHashBytes } from "../../../src/consensus/header.ts";
import { devnet } from "../../../src/consensus/params.ts";
import type { DataRecord } from "../../../src/consensus/records.ts";
import { buildBlock } from "../../../src/consensus/template.ts";
import { type Kernel, loadKernel } from "../../../src/mining/kernels/index.ts";
import { findNonce, prepareHeader } from "../../../src/mining/search.ts";
import { useNativeCrypto } from "../../../src/node/crypto.ts";
import { call, errorCode, sleep } from "../http.ts";
import type { AttackConfig, Counts } from "./types.ts";

/** Blocks of the fork posted first: its parents (heights 1..FORK_LENGTH). */
const FORK_LENGTH = 12;
const LIMIT_BITS = 0x1f00ffff;
const KINDS = ["side", "future", "orphan"] as const;
type Kind = (typeof KINDS)[number];

/** The fork's blocks 0 (genesis) .. `length`, rebuilt from the light benchmark's cached headers. */
export function forkBase(length: number): Block[] {
  const headers = devnetHeaderFixture(length);
  const chain: Block[] = [devnet.genesis];
  for (let h = 1; h <= length; h++) {
    const header = decodeHeader(headers.subarray((h - 1) * HEADER_SIZE, h * HEADER_SIZE));
    const block = fixtureBlock(h, headerHashBytes(chain[h - 1]!.header), header.bits);
    chain.push({ header: { ...block.header, nonce: header.nonce }, records: block.records });
  }
  return chain;
}

/**
 * Random data records filling about `bytes`, each 20 to 1,000 bytes (never 62: a 64-byte record is
 * refused), numbered in their first four bytes so no two in a block are equal.
 */
function filler(bytes: number): DataRecord[] {
  const out: DataRecord[] = [];
  let total = 0;
  for (let i = 0; total < bytes; i++) {
    let size = 20 + Math.floor(Math.random() * 981);
    if (size === 62) size = 63;
    const data = randomBytes(size);
    data.writeUInt32BE(i, 0);
    out.push({ type: "data", data: new Uint8Array(data) });
    total += size + 3;
  }
  return out;
}

/** The block with the first nonce that meets its bits. */
function mine(kernel: Kernel, block: Block): Block {
  const job = prepareHeader(encodeHeader(block.header), bitsToTarget(block.header.bits)!);
  const nonce = findNonce(kernel, job, 0, 2 ** 32);
  if (nonce === null) throw new Error("no nonce");
  return { header: { ...block.header, nonce }, records: block.records };
}

/** Builds one attack block of `kind` (numbered `n`, for unique bodies). */
function attackBlock(kind: Kind, n: number, fork: Block[], kernel: Kernel, kb: number): Block {
  const records = filler(kb * 1024);
  const now = Math.floor(Date.now() / 1000);
  if (kind === "orphan") {
    const block = buildBlock({
      prevHash: new Uint8Array(randomBytes(32)),
      height: 1_000 + n,
      bits: LIMIT_BITS,
      time: now,
      miner: "soak attacker",
      records,
    });
    return mine(kernel, block);
  }
  // A parent on the fork (height 2 or more: ASERT asks the limit of its children).
  const h = 2 + (n % (fork.length - 2));
  const parent = fork[h]!;
  const anchor = anchorFromBlockOne(devnet.genesis.header.bits, fork[1]!.header.time, devnet.targetSpacing);
  const bits = requiredBits(devnet, h, parent.header.time, () => anchor);
  const time = kind === "future" ? now + 60 + Math.floor(Math.random() * 3540) : fixtureTime(h + 1);
  const block = buildBlock({
    prevHash: headerHashBytes(parent.header),
    height: h + 1,
    bits,
    time,
    miner: "soak attacker",
    extraNonce: BigInt(n),
    records,
  });
  return mine(kernel, block);
}

/** Posts one block; counts the answer as `<kind> <status> <code or outcome>`. */
async function post(
  url: string,
  block: Block,
  kind: string,
  counts: Counts,
  signal: AbortSignal,
): Promise<void> {
  const r = await call(url, "/api/blocks", {
    signal,
    method: "POST",
    headers: { "content-type": "application/octet-stream", "x-jbc-client": "soak-attacker" },
    body: encodeBlock(block),
    timeoutMs: 60_000,
    keep: 4096,
  });
  if (signal.aborted) return;
  let what = r.error ?? errorCode(r.text) ?? "";
  if (r.status === 200 || r.status === 202) {
    try {
      what = (JSON.parse(r.text) as { status?: string }).status ?? "";
    } catch {
      what = "?";
    }
  }
  counts.add(`${kind} ${r.status} ${what}`.trim());
}

/** Posts the fork, then side, future and orphan blocks in turn, `blockRate` a second, until `signal`. */
export async function blockAttack(cfg: AttackConfig, counts: Counts, signal: AbortSignal): Promise<void> {
  useNativeCrypto();
  const kernel = loadKernel();
  const fork = forkBase(FORK_LENGTH);
  for (const node of cfg.nodes) {
    for (const b of fork.slice(1)) {
      if (signal.aborted) return;
      await post(node.url, b, "fork", counts, signal);
    }
  }
  const gap = 1000 / cfg.blockRate;
  for (let n = 0; !signal.aborted; n++) {
    const t0 = performance.now();
    const kind = KINDS[n % KINDS.length]!;
    const block = attackBlock(kind, n, fork, kernel, cfg.blockKb);
    await post(cfg.nodes[n % cfg.nodes.length]!.url, block, kind, counts, signal);
    await sleep(Math.max(0, gap - (performance.now() - t0)), signal);
  }
}
