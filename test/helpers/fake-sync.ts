/**
 * Fake sync peers for the headers-first sync loop against a real Chain (test/helpers/chain.ts): each serves
 * its own block list's headers and bodies by locator, as /jbc/headers/1 and /jbc/blocks do. Used by
 * test/sync/sync.test.ts and test/adversarial/sync-window.test.ts.
 */
import { type Block, decodeBlock, encodeBlock } from "../../src/consensus/block.ts";
import { encodeHeader, hashToHex } from "../../src/consensus/header.ts";
import { Sync, type SyncOptions } from "../../src/sync/sync.ts";
import type { SyncFault, SyncOutcome, SyncPeer, SyncProgress } from "../../src/sync/types.ts";
import { silentLogger } from "../../src/util/logger.ts";
import { blockHash } from "./blocks.ts";
import type { Harness } from "./chain.ts";

/** Claimed work far above anything these chains reach. */
export const MORE_WORK = 1n << 200n;

export interface FakePeer extends SyncPeer {
  status: { height: number; work: bigint };
  /** The peer's main chain after genesis (index 0 is height 1). */
  blocks: Block[];
  /** Replaces the served answer (an error to throw, or blocks to send instead). */
  answer?: (served: Uint8Array[], call: number) => Uint8Array[];
  calls: Uint8Array[][];
  /** Heights of the first block of each body request. */
  asked: number[];
}

export function peer(id: string, blocks: Block[], answer?: FakePeer["answer"]): FakePeer {
  return {
    id,
    status: { height: blocks.length, work: MORE_WORK },
    stalledAt: undefined,
    blocks,
    calls: [],
    asked: [],
    ...(answer ? { answer } : {}),
  };
}

/**
 * What a peer serves: up to `max` blocks after the highest locator hash on its chain (genesis if none),
 * past the first `skip`, and (with `maxBytes`) no more block bytes than that, as the blocks protocol does.
 */
export function serve(
  p: FakePeer,
  locator: Uint8Array[],
  max: number,
  skip = 0,
  maxBytes = Infinity,
): Uint8Array[] {
  return after(p, locator, max + skip, maxBytes)
    .slice(skip)
    .map((b) => encodeBlock(b));
}

export function after(p: FakePeer, locator: Uint8Array[], max: number, maxBytes = Infinity): Block[] {
  const heights = new Map(p.blocks.map((b, i) => [blockHash(b), i + 1]));
  let fork = 0;
  for (const h of locator) {
    const height = heights.get(hashToHex(h));
    if (height !== undefined) {
      fork = height;
      break;
    }
  }
  const out: Block[] = [];
  let bytes = 0;
  for (const b of p.blocks.slice(fork, fork + max)) {
    const size = encodeBlock(b).length;
    if (bytes + size > maxBytes) break;
    bytes += size;
    out.push(b);
  }
  return out;
}

export function makeSync(
  h: Harness,
  peers: FakePeer[],
  extra: Partial<SyncOptions<FakePeer>> = {},
): { sync: Sync<FakePeer>; outcomes: SyncOutcome[]; progress: SyncProgress[]; faults: SyncFault[] } {
  const outcomes: SyncOutcome[] = [];
  const progress: SyncProgress[] = [];
  const faults: SyncFault[] = [];
  const sync = new Sync<FakePeer>({
    chain: h.chain,
    peers: () => peers,
    batchSize: 50,
    pipeline: 2,
    logger: silentLogger,
    progressMinBlocks: 100,
    progressIntervalMs: 0,
    fetchHeaders: async (p, locator, max, skip = 0) =>
      after(p, locator, max + skip)
        .slice(skip)
        .map((b) => encodeHeader(b.header)),
    fetchBlocks: async (p, locator, { max, skip }) => {
      p.calls.push(locator);
      const served = serve(p, locator, max, skip);
      if (served[0])
        p.asked.push(p.blocks.findIndex((b) => blockHash(b) === blockHash(decode(served[0]!))) + 1);
      return p.answer ? p.answer(served, p.calls.length) : served;
    },
    onProgress: (e) => progress.push(e),
    onFault: (_p, f) => {
      faults.push(f);
    },
    onOutcome: (o) => {
      outcomes.push(o);
    },
    ...extra,
  });
  return { sync, outcomes, progress, faults };
}

export const decode = (raw: Uint8Array): Block => decodeBlock(raw);
