/**
 * A chain of real devnet headers for the light-client benchmark (bench/light.ts): heights 1..N after the
 * devnet genesis, each block holding its miner record and one data record ("light bench <height>"), mined
 * with the fastest kernel this machine has. Blocks 1 and 2 carry the genesis bits (about 2^24 hashes each);
 * block 2 is stamped 1,300 s behind schedule, which puts ASERT at devnet's proof-of-work limit (about 2^16
 * hashes a header) from block 3 on, where every later block, 5 s after its parent, keeps it: the cheapest
 * valid devnet chain there is. 100,000 headers are about 6.6e9 hashes, some minutes on one SHA-NI core, so
 * the headers are cached in bench/.cache (ignored by git) and the benchmark checks every one anyway.
 *
 *   node --import tsx bench/light-fixture.ts [N]     # mine (or load) and print where the file is
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Block } from "../src/consensus/block.ts";
import { bitsToTarget } from "../src/consensus/compact.ts";
import { anchorFromBlockOne, requiredBits } from "../src/consensus/difficulty.ts";
import { encodeHeader, HEADER_SIZE, headerHashBytes } from "../src/consensus/header.ts";
import { devnet } from "../src/consensus/params.ts";
import { buildBlock } from "../src/consensus/template.ts";
import { loadKernel } from "../src/mining/kernels/index.ts";
import { findNonce, prepareHeader } from "../src/mining/search.ts";
import { useNativeCrypto } from "../src/node/crypto.ts";

const CACHE = join(import.meta.dirname, ".cache");
const utf8 = new TextEncoder();
/** Block 1's time: an hour after the devnet genesis. */
const BLOCK_ONE_TIME = devnet.genesis.header.time + 3600;
/** How far behind ASERT's schedule block 2 is stamped: over 8 half-lives, so the target is the limit. */
const BEHIND_S = 1300;

/** Time of the block at `height` (>= 1) in the fixture. */
export function fixtureTime(height: number): number {
  return height === 1 ? BLOCK_ONE_TIME : BLOCK_ONE_TIME + BEHIND_S + devnet.targetSpacing * (height - 1);
}

/** The block at `height` before mining (nonce 0): its records are fixed, so anyone can rebuild them. */
export function fixtureBlock(height: number, prevHash: Uint8Array, bits: number): Block {
  return buildBlock({
    prevHash,
    height,
    bits,
    time: fixtureTime(height),
    miner: "bench",
    records: [{ type: "data", data: utf8.encode(`light bench ${height}`) }],
  });
}

function mine(count: number, log: (s: string) => void): Uint8Array {
  useNativeCrypto();
  const kernel = loadKernel();
  log(`mining ${count} devnet headers with the ${kernel.name} kernel`);
  const out = new Uint8Array(count * HEADER_SIZE);
  let prev = headerHashBytes(devnet.genesis.header);
  let prevTime = devnet.genesis.header.time;
  const anchor = anchorFromBlockOne(devnet.genesis.header.bits, BLOCK_ONE_TIME, devnet.targetSpacing);
  const started = Date.now();
  for (let h = 1; h <= count; h++) {
    const bits = requiredBits(devnet, h - 1, prevTime, () => anchor);
    const block = fixtureBlock(h, prev, bits);
    const job = prepareHeader(encodeHeader(block.header), bitsToTarget(bits)!);
    const nonce = findNonce(kernel, job, 0, 2 ** 32);
    if (nonce === null) throw new Error(`no nonce for height ${h}`);
    const header = { ...block.header, nonce };
    out.set(encodeHeader(header), (h - 1) * HEADER_SIZE);
    prev = headerHashBytes(header);
    prevTime = header.time;
    if (h % 10_000 === 0) log(`  ${h} headers, ${((Date.now() - started) / 1000).toFixed(0)} s`);
  }
  return out;
}

/** N mined devnet headers (heights 1..N, 80 bytes each), from the cache or mined now and cached. */
export function devnetHeaderFixture(count: number, log: (s: string) => void = () => {}): Uint8Array {
  const file = join(CACHE, `light-devnet-${count}.bin`);
  if (existsSync(file)) {
    const bytes = new Uint8Array(readFileSync(file));
    if (bytes.length === count * HEADER_SIZE) return bytes;
  }
  // A larger cached chain holds this one as its prefix.
  for (const bigger of [100_000, 200_000]) {
    const f = join(CACHE, `light-devnet-${bigger}.bin`);
    if (bigger > count && existsSync(f)) return new Uint8Array(readFileSync(f)).slice(0, count * HEADER_SIZE);
  }
  const bytes = mine(count, log);
  mkdirSync(CACHE, { recursive: true });
  writeFileSync(file, bytes);
  return bytes;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const n = Number(process.argv[2] ?? 100_000);
  const t = Date.now();
  devnetHeaderFixture(n, (s) => console.log(s));
  console.log(`${n} headers ready in ${join(CACHE, `light-devnet-${n}.bin`)} (${Date.now() - t} ms)`);
}
