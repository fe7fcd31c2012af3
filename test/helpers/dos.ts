/**
 * Tools for the denial-of-service tests (test/adversarial): the largest blocks there are, an open-loop
 * `/api/health` prober and a sampler of a node process's resident memory. Bounds asserted with these are
 * generous (a loaded 2-core machine must pass them); the benchmark (npm run bench:dos-api) gives the real
 * figures.
 */
import { createPrivateKey, createPublicKey, randomBytes, sign } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Chain } from "../../src/chain/chain.ts";
import type { Block } from "../../src/consensus/block.ts";
import { headerHashBytes } from "../../src/consensus/header.ts";
import type { NetworkParams } from "../../src/consensus/params.ts";
import { type BlockRecord, type SignedRecord, signedMessage } from "../../src/consensus/records.ts";
import { makeChild, mineHighHash, withNonce } from "./blocks.ts";

/**
 * The `/api/health` p99 the adversarial tests allow while an attack runs: 30x the 50 ms, so a
 * 2-core machine running the suite (and more) passes, and still 10-25x below what the code before these
 * checks measured (14.5-37 s). npm run bench:dos-api measures the figure itself.
 */
export const HEALTH_P99_BOUND_MS = 1_500;

/**
 * Data records of 3 bytes (5 encoded), numbered from `first` so that no two blocks share one, as many as
 * fit in `bytes`: 999,895 bytes of them (199,979 records) fill a block with its header, count and a
 * 19-byte miner record.
 */
export function tinyRecords(first: number, bytes = 999_895): BlockRecord[] {
  const out: BlockRecord[] = [];
  for (let n = first; (out.length + 1) * 5 <= bytes; n++) {
    out.push({ type: "data", data: new Uint8Array([n & 255, (n >> 8) & 255, (n >> 16) & 255]) });
  }
  return out;
}

/**
 * The records of the largest block consensus accepts: `params.maxBlockRecords` less one (the miner record)
 * data records of 242 bytes (244 encoded), numbered from `first` in their first 4 bytes: 4,095 of them,
 * 999,180 bytes, fill a 1 MB block with its header, count and a short miner record. (A block of 199,979
 * tiny records is over the record cap now, refused from its first bytes; `tinyRecords` makes those.)
 */
export function largestRecords(first: number, params: NetworkParams): BlockRecord[] {
  return Array.from({ length: params.maxBlockRecords - 1 }, (_, i) => {
    const data = new Uint8Array(242).fill(0x61 + (i % 26));
    new DataView(data.buffer).setUint32(0, first + i);
    return { type: "data" as const, data };
  });
}

/** DER prefix of an ed25519 private key (PKCS #8) around its 32-byte seed. */
const PKCS8_ED25519 = Buffer.from("302e020100300506032b657004220420", "hex");

/**
 * `n` signed records of 140 bytes of data (numbered from `first` in their first 4 bytes), each under a
 * fresh ed25519 key, signed with node:crypto (fast enough to make 4,095 in a test): the costliest records
 * to check, since a verifier has seen none of the keys. Keys come from random seeds, not
 * generateKeyPairSync, whose job object can deadlock Node 20 when a collection frees it during a JWK export.
 */
export function signedRecords(n: number, first: number): SignedRecord[] {
  return Array.from({ length: n }, (_, i) => {
    const data = new Uint8Array(140).fill(0x61 + (i % 26));
    new DataView(data.buffer).setUint32(0, first + i);
    const key = createPrivateKey({
      key: Buffer.concat([PKCS8_ED25519, randomBytes(32)]),
      format: "der",
      type: "pkcs8",
    });
    const spki = createPublicKey(key).export({ format: "der", type: "spki" });
    const signature = sign(null, signedMessage(data), key);
    return {
      type: "signed",
      data,
      publicKey: new Uint8Array(spki.subarray(spki.length - 32)),
      signature: new Uint8Array(signature),
    };
  });
}

/** `n` random letters and digits: a record that reads as text (its JSON is about its own size). */
export function randomText(n: number): Uint8Array {
  const alphabet = Buffer.from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,-");
  const bytes = randomBytes(n);
  for (let i = 0; i < n; i++) bytes[i] = alphabet[bytes[i]! % alphabet.length]!;
  return bytes;
}

/**
 * Connects `count` full blocks on `parent` to `chain`, ten to a batch: each holds 16 records of 60,000
 * random letters (about 960 KB of text, as much JSON), one second after its parent. Throws unless every
 * one becomes the tip; returns the last.
 */
export async function addFullBlocks(
  chain: Chain,
  params: NetworkParams,
  parent: Block,
  count: number,
  miner = "test",
): Promise<Block> {
  let tip = parent;
  for (let done = 0; done < count; ) {
    const items: Array<{ block: Block }> = [];
    for (let i = 0; i < 10 && done < count; i++, done++) {
      const records: BlockRecord[] = [];
      for (let r = 0; r < 16; r++) records.push({ type: "data", data: randomText(60_000) });
      tip = makeChild(tip, params, { time: tip.header.time + 1, miner, records });
      items.push({ block: tip });
    }
    for (const r of await chain.processBlocks(items)) {
      if (r instanceof Error || r.status !== "main") throw new Error(`full block refused: ${String(r)}`);
    }
  }
  return tip;
}

/**
 * `count` maximum-size blocks on genesis that cost nothing to make: 199,979 records under a header whose
 * hash misses its target (HIGH_HASH, found in a couple of tries) and a merkle root of zeros (never reached:
 * proof of work is checked first). Each has its own nonce, so its own hash.
 */
export function junkMaxBlocks(params: NetworkParams, count: number): Block[] {
  const records: BlockRecord[] = [
    { type: "miner", height: 1, extraNonce: 0n, miner: "flood" },
    ...tinyRecords(0),
  ];
  const base: Block = {
    header: {
      version: 1,
      prevHash: headerHashBytes(params.genesis.header),
      merkleRoot: new Uint8Array(32),
      time: params.genesis.header.time + 1,
      bits: params.genesis.header.bits,
      nonce: 0,
    },
    records,
  };
  const out: Block[] = [];
  let nonce = 0;
  for (let i = 0; i < count; i++) {
    const b = mineHighHash(withNonce(base, nonce));
    out.push(b);
    nonce = b.header.nonce + 1;
  }
  return out;
}

/** Nearest-rank percentile (p in 0..100). */
export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? 0;
}

/**
 * GETs `url`/api/health every `intervalMs` whether or not the earlier probes answered (open loop: a stall
 * shows as many slow probes, not one). `stop` waits for the probes in flight and gives every latency, ms.
 */
export function probeHealth(url: string, intervalMs = 25): { stop(): Promise<number[]> } {
  const latencies: number[] = [];
  const inFlight = new Set<Promise<void>>();
  const fire = (): void => {
    const t0 = performance.now();
    const p = fetch(`${url}/api/health`, { signal: AbortSignal.timeout(120_000) })
      .then((res) => res.arrayBuffer())
      .catch(() => undefined)
      .then(() => {
        latencies.push(performance.now() - t0);
      });
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  };
  const timer = setInterval(fire, intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      await Promise.all(inFlight);
      return latencies;
    },
  };
}

/**
 * Resident memory of a process (Linux /proc), bytes: all of it, and its anonymous part. The difference is
 * mostly file pages mapped into the process, above all LevelDB's table files (it reads them through
 * mmap): page cache that grows with the data read and that the kernel reclaims at will, not memory the
 * node holds.
 */
export function rssOf(pid: number): { total: number; anon: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string): number =>
    Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024;
  return { total: kb("VmRSS"), anon: kb("RssAnon") };
}

/** Samples a process's memory every 50 ms from now; `stop` gives the largest growth over the first sample. */
export function sampleRss(pid: number): { stop(): { total: number; anon: number } } {
  const start = rssOf(pid);
  const peak = { ...start };
  const timer = setInterval(() => {
    try {
      const now = rssOf(pid);
      peak.total = Math.max(peak.total, now.total);
      peak.anon = Math.max(peak.anon, now.anon);
    } catch {
      // The process has exited.
    }
  }, 50);
  return {
    stop() {
      clearInterval(timer);
      return { total: peak.total - start.total, anon: peak.anon - start.anon };
    },
  };
}
