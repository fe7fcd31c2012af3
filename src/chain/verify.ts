import { type Block, decodeBlock, MAX_BLOCK_SIZE, recordIds } from "../consensus/block.ts";
import { bytesEqual, DecodeError, Reader } from "../consensus/bytes.ts";
import { blockWork } from "../consensus/compact.ts";
import { type AsertAnchor, anchorFromBlockOne, requiredBits } from "../consensus/difficulty.ts";
import { encodeHeader, HEADER_SIZE, hashToHex, headerHashBytes } from "../consensus/header.ts";
import { computeMerkleRoot, UPPER_TREE_SPAN, upperTreeSize } from "../consensus/merkle.ts";
import type { NetworkParams } from "../consensus/params.ts";
import { readRecord } from "../consensus/records.ts";
import { MEDIAN_TIME_SPAN, medianTimePast } from "../consensus/time.ts";
import { errorMessage } from "../util/errors.ts";
import { checkBlock, type Position } from "./connect.ts";
import { type ChainStore, indexedRecords, type RecordPlace, type StoredEntry, StoreError } from "./store.ts";
import { isInvalid } from "./tree.ts";

export interface VerifyResult {
  ok: boolean;
  /** Height of the stored tip (-1 when there is none). */
  height: number;
  tip: string | undefined;
  /** Main-chain blocks fully re-checked. */
  checked: number;
  /** Entries in the block index (main and side). */
  entries: number;
  /** One line per problem found, naming the block or key. */
  problems: string[];
}

export interface VerifyOptions {
  /** Called every `progressEvery` blocks and at the end with (blocks checked, main-chain length). */
  onProgress?: (done: number, total: number) => void;
  progressEvery?: number;
  /** Stop collecting after this many problems (default 100). */
  maxProblems?: number;
}

const BATCH = 500;

/**
 * Re-checks the whole stored chain from genesis, trusting nothing in the store: every main-chain body is
 * decoded and hashed, and must match its index entry and height record; proof of work, merkle root,
 * difficulty (recomputed along the chain), median time past, heights and record signatures are checked
 * again; cumulative work is recomputed; every block-tree entry must hash to its key, have its parent and a
 * body that matches it (header, size, record count and miner), and the merkle upper levels its record count
 * calls for, equal to the tree of its records.
 * Reads only; never changes the store.
 */
export async function verifyChain(
  store: ChainStore,
  params: NetworkParams,
  opts: VerifyOptions = {},
): Promise<VerifyResult> {
  try {
    return await new Verifier(store, params, opts).run();
  } catch (err) {
    // The store itself refused to read (LevelDB corruption, unreadable entry): that is a finding too.
    if (!(err instanceof StoreError)) throw err;
    return { ok: false, height: -1, tip: undefined, checked: 0, entries: 0, problems: [err.message] };
  }
}

function sameUpper(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  return a === undefined || b === undefined ? a === b : bytesEqual(a, b);
}

/** A body's record count and miner name, read without decoding the other records; undefined if malformed. */
function bodySummary(raw: Uint8Array): { recordCount: number; miner: string } | undefined {
  try {
    const r = new Reader(raw);
    r.pos = HEADER_SIZE;
    const recordCount = r.varint(Math.floor(MAX_BLOCK_SIZE / 2), "record count");
    const first = recordCount > 0 ? readRecord(r) : undefined;
    return { recordCount, miner: first?.type === "miner" ? first.miner : "" };
  } catch (err) {
    if (err instanceof DecodeError) return undefined;
    throw err;
  }
}

/** Where the walk along the main chain stands: what the next block is checked against. */
class MainWalk {
  /** The last main-chain entry checked (the one below the next block). */
  prev: StoredEntry | undefined = undefined;
  chainWork = 0n;
  /** Times of the last 11 main-chain blocks checked, oldest first. */
  times: number[] = [];
  anchor: AsertAnchor | undefined = undefined;
  /** Main-chain records and signed records seen, to compare with the number of index keys. */
  records = 0;
  signed = 0;
  /** Entries checked as main-chain blocks (their upper levels compared there). */
  onMain = new Set<StoredEntry>();
  checked = 0;
}

/** One run of verifyChain: the steps in their order, each adding what it finds to `problems`. */
class Verifier {
  private readonly problems: string[] = [];
  private readonly max: number;
  private readonly byHash = new Map<string, StoredEntry>();
  private readonly walk = new MainWalk();
  private total = 0;

  constructor(
    private readonly store: ChainStore,
    private readonly params: NetworkParams,
    private readonly opts: VerifyOptions,
  ) {
    this.max = opts.maxProblems ?? 100;
  }

  private problem(p: string): void {
    if (this.problems.length < this.max) this.problems.push(p);
  }

  /** Every step; a main chain that cannot be followed further ends the run there. */
  async run(): Promise<VerifyResult> {
    const { store, byHash } = this;
    for (const e of await store.loadEntries()) byHash.set(hashToHex(e.hash), e);
    this.checkEntries();
    const all = [...byHash.values()];
    const sideUppers = await this.checkBodies(all);

    const tipBytes = await store.getTip();
    if (!tipBytes) {
      this.problem("no tip record");
      return { ...this.result(-1, undefined), ok: false };
    }
    const tipHash = hashToHex(tipBytes);
    const tip = byHash.get(tipHash);
    if (!tip) {
      this.problem(`tip ${tipHash} is not in the block index`);
      return { ...this.result(-1, tipHash), ok: false };
    }

    this.total = tip.height + 1;
    if (!(await this.checkMain())) return this.done(tip, tipHash);
    const { walk, total } = this;
    if (hashToHex(walk.prev?.hash ?? new Uint8Array(32)) !== tipHash)
      this.problem("the height index does not end at the tip");
    const beyond = await store.getMainHash(total);
    if (beyond) this.problem(`height index has a block above the tip (height ${total})`);
    // Valid blocks that left the main chain and other side blocks: their stored levels against their records.
    await this.checkOffMain(
      sideUppers.concat(all.filter((e) => e.status === "valid" && !walk.onMain.has(e))),
    );
    if (walk.checked === total) {
      // Every main-chain record has its keys (checkMain); more keys than records means stale ones.
      const keys = await store.countRecordIndex();
      if (keys.records !== walk.records)
        this.problem(`record index holds ${keys.records} ids for ${walk.records} main-chain records`);
      if (keys.authors !== walk.signed)
        this.problem(`author index holds ${keys.authors} keys for ${walk.signed} signed main-chain records`);
    }
    return this.done(tip, tipHash);
  }

  /** The result once the main chain was walked (as far as it could be), with the last progress call. */
  private done(tip: StoredEntry, tipHash: string): VerifyResult {
    this.opts.onProgress?.(this.walk.checked, this.total);
    return this.result(tip.height, tipHash);
  }

  private result(height: number, tip: string | undefined): VerifyResult {
    const { problems, walk } = this;
    return {
      ok: problems.length === 0,
      height,
      tip,
      checked: walk.checked,
      entries: this.byHash.size,
      problems,
    };
  }

  /** Index consistency: parents, heights, work, arrival numbers and statuses of every entry (main, side). */
  private checkEntries(): void {
    const seqs = new Set<number>();
    for (const [hash, e] of this.byHash) {
      const parentHash = hashToHex(e.header.prevHash);
      // LevelDB does not checksum what it reads back: a damaged entry must not pass for a good one.
      const headerHash = hashToHex(headerHashBytes(e.header));
      if (headerHash !== hash) this.problem(`entry ${hash}: its stored header hashes to ${headerHash}`);
      if (seqs.has(e.seq)) this.problem(`entry ${hash}: arrival number ${e.seq} is not unique`);
      seqs.add(e.seq);
      if (e.height === 0) {
        if (hash !== this.params.genesisHash)
          this.problem(`entry ${hash} claims height 0 but is not the genesis block`);
        continue;
      }
      const p = this.byHash.get(parentHash);
      if (!p) {
        this.problem(`entry ${hash} (height ${e.height}): parent ${parentHash} missing from the index`);
        continue;
      }
      if (p.height + 1 !== e.height)
        this.problem(`entry ${hash}: height ${e.height} but parent height ${p.height}`);
      if (p.chainWork + blockWork(e.header.bits) !== e.chainWork)
        this.problem(`entry ${hash}: cumulative work is wrong`);
      if (e.seq <= p.seq) this.problem(`entry ${hash}: arrival number ${e.seq} is not after its parent's`);
      if (isInvalid(p) && !isInvalid(e)) {
        this.problem(`entry ${hash}: descends from invalid ${parentHash} but is marked ${e.status}`);
      }
    }
  }

  /**
   * Every entry's body and upper levels against the entry (header, size, record count, miner); returns the
   * blocks off the main chain with upper levels, whose contents are checked after the main chain's.
   */
  private async checkBodies(all: StoredEntry[]): Promise<StoredEntry[]> {
    const sideUppers: StoredEntry[] = [];
    for (let i = 0; i < all.length; i += BATCH) {
      const part = all.slice(i, i + BATCH);
      const bodies = await this.store.getBlocks(part.map((e) => e.hash));
      const uppers = await this.store.getUpperTrees(part.map((e) => e.hash));
      bodies.forEach((b, j) => {
        const e = part[j]!;
        // Present exactly for the blocks of more than UPPER_TREE_SPAN records, of the size their count gives;
        // the contents are compared with the recomputed tree later.
        const upper = uppers[j];
        if ((upper?.length ?? 0) !== upperTreeSize(e.recordCount))
          this.problem(
            `block ${hashToHex(e.hash)}: merkle upper levels ${upper ? `of ${upper.length} bytes` : "missing"}, ${e.recordCount} records need ${upperTreeSize(e.recordCount)}`,
          );
        else if (upper && e.status !== "valid") sideUppers.push(e);
        if (!b) this.problem(`block body ${hashToHex(e.hash)} missing`);
        else if (b.length !== e.size || !bytesEqual(b.subarray(0, HEADER_SIZE), encodeHeader(e.header))) {
          this.problem(`block body ${hashToHex(e.hash)} does not match its index entry (header or size)`);
        } else {
          // The explorer and the API show these from the index without reading bodies: check them everywhere.
          const found = bodySummary(b);
          if (!found) this.problem(`block body ${hashToHex(e.hash)} does not decode`);
          else if (found.recordCount !== e.recordCount || found.miner !== e.miner)
            this.problem(`entry ${hashToHex(e.hash)}: its record count or miner does not match its body`);
        }
      });
    }
    return sideUppers;
  }

  /** Main chain, genesis to tip, through the height index; false when it cannot be followed to the end. */
  private async checkMain(): Promise<boolean> {
    const { store, total } = this;
    const every = this.opts.progressEvery ?? 1000;
    for (let from = 0; from < total; from += BATCH) {
      const heights = Array.from({ length: Math.min(BATCH, total - from) }, (_, i) => from + i);
      const mainHashes = await Promise.all(heights.map((h) => store.getMainHash(h)));
      const bodies = await store.getBlocks(mainHashes.map((h) => h ?? new Uint8Array(32)));
      const uppers = await store.getUpperTrees(mainHashes.map((h) => h ?? new Uint8Array(32)));
      for (let i = 0; i < heights.length; i++) {
        const height = heights[i]!;
        const key = mainHashes[i];
        if (!key) {
          this.problem(`height index has no block at height ${height}`);
          return false;
        }
        if (!(await this.checkMainBlock(height, hashToHex(key), bodies[i], uppers[i]))) return false;
        this.walk.checked++;
        if (this.opts.onProgress && this.walk.checked % every === 0)
          this.opts.onProgress(this.walk.checked, total);
      }
    }
    return true;
  }

  /** The main-chain block at `height` against its entry, the block below, every rule and the record index. */
  private async checkMainBlock(
    height: number,
    hash: string,
    raw: Uint8Array | undefined,
    storedUpper: Uint8Array | undefined,
  ): Promise<boolean> {
    const { walk, params } = this;
    const e = this.byHash.get(hash);
    if (!e) this.problem(`main-chain block ${hash} (height ${height}) has no index entry`);
    if (!raw) {
      this.problem(`main-chain block ${hash} (height ${height}) body missing`);
      return false;
    }
    let block: Block;
    try {
      block = decodeBlock(raw);
    } catch (err) {
      this.problem(`main-chain block ${hash} (height ${height}) does not decode: ${errorMessage(err)}`);
      return false;
    }
    const actual = headerHashBytes(block.header);
    if (hashToHex(actual) !== hash)
      this.problem(`block stored under ${hash} (height ${height}) hashes to ${hashToHex(actual)}`);
    if (e && e.height !== height)
      this.problem(`block ${hash} indexed at height ${height} but its entry says ${e.height}`);
    if (e && e.status !== "valid")
      this.problem(`main-chain block ${hash} (height ${height}) has status ${e.status}`);
    if (walk.prev && hashToHex(block.header.prevHash) !== hashToHex(walk.prev.hash)) {
      this.problem(`block ${hash} (height ${height}) does not build on the main-chain block below it`);
    }
    walk.chainWork += blockWork(block.header.bits);
    if (e && e.chainWork !== walk.chainWork)
      this.problem(`block ${hash} (height ${height}): stored cumulative work is wrong`);
    const ids = recordIds(block);
    const places = await this.checkRecordIndex(block, ids, height, hash);
    try {
      const facts = checkBlock(block, actual, params, this.position(height, block), {
        now: Number.MAX_SAFE_INTEGER,
        size: raw.length,
        // A record the index places lower in the chain is a repeat (one placed elsewhere is reported above).
        confirmedIn: (_id, index) => {
          const p = places[index];
          return p && p.height < height ? `the main-chain block at height ${p.height}` : undefined;
        },
      });
      if (!sameUpper(facts.upper, storedUpper))
        this.problem(`block ${hash} (height ${height}): its stored merkle upper levels are not its tree's`);
    } catch (err) {
      this.problem(`block ${hash} (height ${height}) breaks a rule: ${errorMessage(err)}`);
    }
    if (height === 1)
      walk.anchor = anchorFromBlockOne(params.genesis.header.bits, block.header.time, params.targetSpacing);
    walk.times.push(block.header.time);
    if (walk.times.length > MEDIAN_TIME_SPAN) walk.times.shift();
    if (e) walk.onMain.add(e);
    walk.prev = e ?? walk.prev;
    return true;
  }

  /** Where the main-chain block at `height` sits: its parent is the main-chain block checked just before. */
  private position(height: number, block: Block): Position {
    if (height === 0) return "genesis";
    const { walk, params } = this;
    return {
      // The parent's own problems are reported at its height.
      parent: {
        hash: hashToHex(block.header.prevHash),
        height: height - 1,
        invalid: false,
        childContext: () => ({
          expectedBits: requiredBits(params, height - 1, walk.times.at(-1)!, () => walk.anchor!),
          medianTimePast: medianTimePast(walk.times),
        }),
      },
    };
  }

  /** The record index: every record of the block at its own place, every signed one under its author. */
  private async checkRecordIndex(
    block: Block,
    ids: Uint8Array[],
    height: number,
    hash: string,
  ): Promise<Array<RecordPlace | undefined>> {
    const rows = indexedRecords(block, height, ids);
    const places = await this.store.getRecordPlaces(ids);
    const authored = rows.filter((r) => r.author !== undefined) as Array<
      (typeof rows)[number] & { author: Uint8Array }
    >;
    const authorIds = await this.store.getAuthorIds(authored);
    this.walk.records += rows.length;
    this.walk.signed += authored.length;
    places.forEach((p, index) => {
      if (!p || p.height !== height || p.index !== index) {
        const where = p
          ? `indexed at height ${p.height}, position ${p.index}`
          : "missing from the record index";
        this.problem(
          `record ${hashToHex(ids[index]!)} (block ${hash}, height ${height}, position ${index}) is ${where}`,
        );
      }
    });
    authored.forEach((r, i) => {
      const got = authorIds[i];
      if (!got || !bytesEqual(got, r.id))
        this.problem(
          `record ${hashToHex(r.id)} (block ${hash}, height ${height}, position ${r.index}) is missing from the author index`,
        );
    });
    return places;
  }

  /** Blocks off the main chain with upper levels: the stored levels against their records' tree. */
  private async checkOffMain(offMain: StoredEntry[]): Promise<void> {
    for (let i = 0; i < offMain.length; i += BATCH) {
      const part = offMain.slice(i, i + BATCH).filter((e) => e.recordCount > UPPER_TREE_SPAN);
      if (part.length === 0) continue;
      const bodies = await this.store.getBlocks(part.map((e) => e.hash));
      const uppers = await this.store.getUpperTrees(part.map((e) => e.hash));
      part.forEach((e, j) => {
        const raw = bodies[j];
        if (!raw) return; // reported by checkBodies
        let upper: Uint8Array | undefined;
        try {
          upper = computeMerkleRoot(recordIds(decodeBlock(raw)), true).upper;
        } catch {
          return; // a body that does not decode is reported by checkBodies
        }
        if (!sameUpper(upper, uppers[j]))
          this.problem(`block ${hashToHex(e.hash)}: its stored merkle upper levels are not its tree's`);
      });
    }
  }
}
