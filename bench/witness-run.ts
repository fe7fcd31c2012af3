/**
 * bench:records (d): what witnessed checkpoints (issue 19, src/witness) cost a node per block, on the same
 * pre-built chain as (a). The witness side is the node's own wiring (src/node/witness.ts openWitness: its
 * key in the datadir, 3 configured witnesses, quorum 2, depth 6, the final checkpoint saved to
 * `<datadir>/witness/final.json`, an info logger writing to /dev/null): it signs the block 6 below its tip
 * (Ed25519, node:crypto) at a new tip, at most once per SIGN_INTERVAL_MS (a burst is signed once, at its
 * latest tip), and each time it signs, the two other team nodes' cosignatures of that same checkpoint (they
 * run the same code on the same blocks) are handed to `receive` on the next turn of the event loop, as
 * gossip brings them (parsed, verified with node:crypto, stored; the first makes the quorum: finalize,
 * save; the second is stored too). The gossip layer's own work (publish, size and rate bounds) is not in
 * it. The other side is the node as bench:records (a) runs it, index on, no witness.
 */
import { join } from "node:path";
import { pino } from "pino";
import { Chain } from "../src/chain/chain.ts";
import { decodeBlock } from "../src/consensus/block.ts";
import { checkpointOrigin, formatCheckpoint } from "../src/consensus/checkpoint.ts";
import { type NoteSigner, noteSigner, signNoteText } from "../src/consensus/note.ts";
import { regtest } from "../src/consensus/params.ts";
import { loadOrCreatePeerKey } from "../src/net/identity.ts";
import { nativeEd25519Sign } from "../src/node/crypto.ts";
import { openWitness } from "../src/node/witness.ts";
import { LevelStore } from "../src/store/level.ts";
import { decodeCosignature, encodeCosignature } from "../src/witness/message.ts";
import type { Witness } from "../src/witness/witness.ts";
import { benchNow } from "./process-run.ts";
import { median } from "./stats.ts";

const params = regtest;
/** k, the node's default. */
export const WITNESS_DEPTH = 6;
/** A team node's signer as the node makes it (src/node/witness.ts): OpenSSL signs. */
const nodeSigner = (name: string, seed: Uint8Array): NoteSigner => ({
  ...noteSigner(name, seed),
  sign: nativeEd25519Sign(seed),
});
/** The two other team nodes. */
const peers: NoteSigner[] = [2, 3].map((i) => nodeSigner(`team-${i}`, new Uint8Array(32).fill(i)));
const origin = checkpointOrigin(params);

/** The peers' cosignature messages, by the height of the checkpoint they sign. */
export type PeerCosignatures = Map<number, Uint8Array[]>;

/**
 * Processes `raws` into a chain on a fresh store in `dir` (no witness) and builds, for every checkpoint a
 * block of it can make signable, the two peers' cosignature messages.
 */
export async function peerCosignatures(dir: string, raws: Uint8Array[]): Promise<PeerCosignatures> {
  const store = await LevelStore.open(dir, params);
  const chain = await Chain.open({ params, store, now: benchNow });
  for (const raw of raws) await chain.processBlock(decodeBlock(raw), raw);
  const out: PeerCosignatures = new Map();
  for (let h = 1; h + WITNESS_DEPTH <= raws.length; h++) {
    const e = chain.getEntryAt(h)!;
    const text = formatCheckpoint({ origin, height: h, hash: e.hash, chainWork: e.chainWork });
    out.set(
      h,
      peers.map((p) => encodeCosignature(p, text, signNoteText(text, p))),
    );
  }
  await chain.close();
  await store.close();
  return out;
}

/** One side of a run: a chain on a fresh store in `dir`, with the node's witness or without. */
export interface Side {
  chain: Chain;
  /** processBlock of one raw block (with a witness, the peers' cosignatures follow its signatures). */
  feed(raw: Uint8Array): Promise<void>;
  /**
   * processBlocks of a run of raw blocks, as a sync imports them: one tip event, so one signature, per
   * committed run; no peers' cosignatures (the peers sign their own tips, not the blocks being synced).
   */
  feedBatch(raws: Uint8Array[]): Promise<void>;
  /** Waits for the peers' cosignatures handed so far to be judged (not for a signature still pending). */
  settle(): Promise<void>;
  close(): Promise<void>;
  /** Checkpoints the witness signed (0 without). */
  signed(): number;
}

/** Opens a side; `cosigs` (with a witness) are the peers' messages to hand it after each block. */
export async function openSide(dir: string, cosigs?: PeerCosignatures): Promise<Side> {
  const store = await LevelStore.open(join(dir, "chain"), params);
  const chain = await Chain.open({ params, store, now: benchNow });
  let witness: Witness | undefined;
  let logger: pino.Logger | undefined;
  let delivering = Promise.resolve();
  if (cosigs) {
    // The node's witness key is its libp2p key (created here as the node would); the team's file lists it.
    const key = await loadOrCreatePeerKey(join(dir, "p2p", "peer.key"));
    const self = noteSigner("team-1", key.raw.subarray(0, 32));
    logger = pino({ level: "info" }, pino.destination({ dest: "/dev/null", sync: false }));
    witness = await openWitness({
      datadir: dir,
      params,
      chain,
      config: { witnesses: [self, ...peers], quorum: 2, depth: WITNESS_DEPTH, name: "team-1" },
      logger,
    });
    const w = witness;
    w.on("cosigned", (e) => {
      if (e.signer !== "team-1") return;
      delivering = delivering.then(async () => {
        await new Promise((r) => setImmediate(r));
        for (const m of cosigs.get(e.height) ?? []) {
          const v = w.receive(m);
          if (v.verdict !== "accept") throw new Error(`a peer's cosignature was ${v.verdict}`);
        }
      });
    });
  }
  return {
    chain,
    async feed(raw) {
      const r = await chain.processBlock(decodeBlock(raw), raw);
      if (r.status !== "main") throw new Error(`unexpected ${r.status}`);
    },
    async feedBatch(raws) {
      const rs = await chain.processBlocks(raws.map((raw) => ({ block: decodeBlock(raw), raw })));
      if (rs.length !== raws.length || rs.some((r) => !("status" in r) || r.status !== "main"))
        throw new Error("a synced block was refused");
    },
    signed: () => witness?.counts.signed ?? 0,
    async settle() {
      await delivering;
    },
    async close() {
      if (witness && witness.counts.signed === 0) throw new Error("the witness never signed");
      witness?.stop();
      await delivering;
      await chain.close();
      await store.close();
      logger?.flush();
    },
  };
}

/**
 * Whole-run blocks/s of one side: every raw block fed in order (the witness's async tails included), and
 * the checkpoints it signed.
 */
export async function witnessRunBlocksPerSec(
  dir: string,
  raws: Uint8Array[],
  cosigs?: PeerCosignatures,
): Promise<{ blocksPerSec: number; signed: number }> {
  const side = await openSide(dir, cosigs);
  const t0 = performance.now();
  for (const raw of raws) await side.feed(raw);
  await side.settle();
  const s = (performance.now() - t0) / 1000;
  const signed = side.signed();
  await side.close();
  return { blocksPerSec: raws.length / s, signed };
}

/** The six orders of three sides: each side follows each other one equally often. */
const ORDERS = [
  [0, 1, 2],
  [0, 2, 1],
  [1, 0, 2],
  [1, 2, 0],
  [2, 0, 1],
  [2, 1, 0],
] as const;

/**
 * Three sides take the same blocks interleaved block by block (as bench/interleaved.ts does): the witness
 * side and two without (the second is the A/A control), a block at a time (or `batch` at a time through
 * processBlocks, as a sync), in an order that goes through all six per six
 * blocks, so what the witness leaves running (its finalize, the final checkpoint's file write, the log
 * line) lands after each of the others equally. Each call is timed up to a turn of the event loop
 * (setImmediate), so the part of those tails that is ready by then counts on its own side. Returns the
 * median µs per call of each, [with, without, without again], and the mean (a signature and its peers'
 * cosignatures fall on a few calls of a burst, so the mean is what they cost a block).
 */
export async function interleavedRound(
  dirs: [string, string, string],
  raws: Uint8Array[],
  cosigs: PeerCosignatures,
  round: number,
  batch = 1,
): Promise<{ median: [number, number, number]; mean: [number, number, number] }> {
  const sides = [await openSide(dirs[0], cosigs), await openSide(dirs[1]), await openSide(dirs[2])];
  const times: number[][] = [[], [], []];
  for (let i = 0; i < raws.length; i += batch) {
    for (const j of ORDERS[(i / batch + round) % ORDERS.length]!) {
      const t0 = performance.now();
      if (batch === 1) await sides[j]!.feed(raws[i]!);
      else await sides[j]!.feedBatch(raws.slice(i, i + batch));
      await new Promise((r) => setImmediate(r));
      times[j]!.push((performance.now() - t0) * 1000);
    }
  }
  for (const s of sides) await s.close();
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  return {
    median: [median(times[0]!), median(times[1]!), median(times[2]!)],
    mean: [mean(times[0]!), mean(times[1]!), mean(times[2]!)],
  };
}

/**
 * µs per call of the witness's primitives: signing a checkpoint as the node does (node:crypto) and with
 * @noble (the browser's and every caller's without node:crypto), and parsing + verifying a peer's (the
 * installed verifier: node:crypto's after useNativeCrypto).
 */
export function witnessMicro(iterations: number): { signUs: number; signNobleUs: number; verifyUs: number } {
  const self = nodeSigner("team-1", new Uint8Array(32).fill(1));
  const noble = noteSigner("team-1", new Uint8Array(32).fill(1));
  const text = formatCheckpoint({ origin, height: 1000, hash: "ab".repeat(32), chainWork: 123456789n });
  const msg = encodeCosignature(peers[0]!, text, signNoteText(text, peers[0]!));
  const timed = (f: () => void): number => {
    const rounds: number[] = [];
    for (let r = 0; r < 5; r++) {
      const t0 = performance.now();
      for (let i = 0; i < iterations; i++) f();
      rounds.push(((performance.now() - t0) * 1000) / iterations);
    }
    return median(rounds);
  };
  // Compiled first.
  for (let i = 0; i < 50; i++) {
    decodeCosignature(msg);
    signNoteText(text, self);
  }
  return {
    signUs: timed(() => signNoteText(text, self)),
    signNobleUs: timed(() => signNoteText(text, noble)),
    verifyUs: timed(() => decodeCosignature(msg)),
  };
}
