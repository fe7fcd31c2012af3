/**
 * The receiving end of compact blocks: a header announcement is answered with a request for the compact
 * block (low-bandwidth mode), a compact block is rebuilt from the pool, the records the pool lacks are asked
 * of the sender in one getblocktxn, and the block goes to the chain's one processBlock with the sender as
 * its source (unrequested, as gossip's blocks are). When the rebuilt block does not make its merkle root (a
 * short-id collision: no one's fault) or the sender does not answer, the full block is fetched from it by
 * hash (/jbc/blocks with the parent as locator).
 *
 * A pushed compact block is handed to `early` once rebuilt, before processBlock: relay.ts passes it on if it
 * extends the tip and passes every check before the connect (BIP 152's relay before validation). A block
 * pushed by a peer we asked for high-bandwidth mode that then fails only a rule of the connect (a record
 * already confirmed, a bad signature) costs its sender nothing: it may have relayed the block the same way.
 */
import { ChainError } from "../../chain/errors.ts";
import type { ProcessResult } from "../../chain/types.ts";
import { MAX_BLOCK_SIZE } from "../../consensus/block.ts";
import { BlockError, type BlockErrorCode } from "../../consensus/errors.ts";
import { sha256d } from "../../consensus/hash.ts";
import { decodeHeader, hashToHex } from "../../consensus/header.ts";
import { checkHeaderWork } from "../../consensus/validate.ts";
import { errorMessage } from "../../util/errors.ts";
import type { NetContext } from "../context.ts";
import type { Peers } from "../peers/peers.ts";
import { rawBlockHash } from "../protocols.ts";
import type { BlockFetcher } from "../reqresp/blocks.ts";
import { requestCompact } from "../reqresp/blocktxn.ts";
import { type CompactBlock, decodeBlockTxn, decodeCompact, MAX_CMPCT_SIZE } from "./codec.ts";
import type { RequestLine } from "./lines.ts";
import { assemble, fillMissing, type PendingRecords, startReconstruction } from "./reconstruct.ts";

/** Most blocks being rebuilt at once (each holds its records until it ends). */
const MAX_IN_FLIGHT = 16;

/** Milliseconds since `t0` (performance.now()), rounded. */
const elapsed = (t0: number): number => Math.round(performance.now() - t0);

/**
 * The rules a block is checked against only when it connects (connect.ts stage "records"): all that a node
 * relaying a pushed compact block before validation has not checked (Chain.checkBeforeConnect ran every
 * other). A pushed block that breaks one of them costs its sender nothing, as Bitcoin Core's
 * MaybePunishNodeForBlock spares a compact block's sender BLOCK_CONSENSUS; every other rule still costs in
 * full. Every code is listed, so that a new one must be placed.
 */
const CONNECT_RULE: Record<BlockErrorCode, boolean> = {
  DUPLICATE_RECORD: true,
  BAD_SIGNATURE: true,
  MALFORMED: false,
  BAD_SIZE: false,
  BAD_RECORD: false,
  RECORD_64_BYTES: false,
  BAD_MERKLE_ROOT: false,
  MUTATED: false,
  BAD_MINER_RECORD: false,
  BAD_HEIGHT: false,
  UNAUTHORISED_AUTHOR: false,
  BAD_TARGET: false,
  HIGH_HASH: false,
  BAD_BITS: false,
  TIME_TOO_OLD: false,
  TIME_TOO_NEW: false,
  INVALID_PARENT: false,
  CHECKPOINT_MISMATCH: false,
  FORK_BEFORE_CHECKPOINT: false,
  BAD_GENESIS: false,
};

/** How a compact block came: pushed (high-bandwidth mode), or asked for after a header (getcmpct). */
export type CompactVia = "push" | "getcmpct";

/** What relay.ts does around a pushed block's processing (relay before validation). */
export interface EarlyRelay {
  /** A rebuilt pushed block about to be processed: passes it on if it may; whether it did. */
  relay(from: string, compact: CompactBlock, hash: string, raw: Uint8Array): Promise<boolean>;
  /** Its processing ended (the rebuilt bytes kept for getblocktxn can go). */
  settled(hash: string): void;
  /** Whether we asked this peer for high-bandwidth mode (now, or moments ago): its pushes are honest. */
  chosen(id: string): boolean;
}

const NO_EARLY: EarlyRelay = { relay: async () => false, settled: () => {}, chosen: () => false };

/** How an announcement ended (for tests and logs). */
export type ReceiveOutcome = "main" | "other" | "refused" | "fallback" | "skipped";

export class CompactReceiver {
  /** Blocks being rebuilt, by display hash: a second announcement of one is dropped. */
  private readonly inFlight = new Set<string>();
  /**
   * Blocks whose compact form was asked for after a header (getcmpct): a second header is dropped, but a
   * compact block pushed meanwhile by a high-bandwidth peer is rebuilt at once rather than waiting for
   * the answer (the answer is then a block already known).
   */
  private readonly asked = new Set<string>();

  constructor(
    private readonly ctx: NetContext,
    private readonly peers: Peers,
    private readonly fetcher: BlockFetcher,
    private readonly pool: PendingRecords | undefined,
    /** The request line to a compact peer (relay.ts opens one per peer as it joins). */
    private readonly requests: (id: string) => RequestLine | undefined,
    private readonly early: EarlyRelay = NO_EARLY,
  ) {}

  /** Whether the block is known or being rebuilt (nothing to do for its announcement). */
  private known(hash: string): boolean {
    return this.inFlight.has(hash) || this.ctx.chain.getEntry(hash) !== undefined;
  }

  /**
   * The header's own proof of work, before anything is spent on the body: junk announcements cost their
   * sender the chain's penalty (HIGH_HASH 100) and us one hash.
   */
  private async workDone(from: string, header: Uint8Array): Promise<string | undefined> {
    const hashBytes = sha256d(header);
    const hash = hashToHex(hashBytes);
    try {
      checkHeaderWork(decodeHeader(header), hashBytes, hash, this.ctx.params);
      return hash;
    } catch (err) {
      await this.peers.penalizeError(from, err, "compact announcement");
      return undefined;
    }
  }

  /** A low-bandwidth announcement: asks its sender for the compact block of a header we do not know. */
  async onHeader(from: string, header: Uint8Array): Promise<ReceiveOutcome> {
    const hash = rawBlockHash(header);
    const busy = (): boolean => this.known(hash) || this.asked.has(hash);
    if (busy() || this.asked.size >= MAX_IN_FLIGHT) return "skipped";
    if ((await this.workDone(from, header)) === undefined) return "refused";
    const line = this.requests(from);
    if (!line || busy()) return "skipped";
    this.asked.add(hash);
    let compact: CompactBlock | undefined;
    try {
      const req = { type: "getcmpct" as const, hash: sha256d(header) };
      const limits = { maxAnswer: MAX_CMPCT_SIZE, ms: this.ctx.limits.compactTimeoutMs };
      const t0 = performance.now();
      const answer = await requestCompact(line, req, limits);
      this.ctx.log.debug({ hash, peer: from, ms: elapsed(t0) }, "compact: getcmpct answered");
      if (answer) compact = decodeCompact(answer);
      if (compact && !compact.header.every((b, i) => b === header[i])) {
        await this.peers.penalize(from, 50, "getcmpct answered with another block");
        return "refused";
      }
    } catch (err) {
      await this.peers.penalizeError(from, err, "getcmpct");
    } finally {
      this.asked.delete(hash);
    }
    return compact ? this.onCompact(from, compact, "getcmpct") : "skipped";
  }

  /** A compact block (pushed in high-bandwidth mode, or fetched after a header): rebuilds and submits it. */
  async onCompact(from: string, compact: CompactBlock, via: CompactVia = "push"): Promise<ReceiveOutcome> {
    const hash = rawBlockHash(compact.header);
    if (this.known(hash) || this.inFlight.size >= MAX_IN_FLIGHT) return "skipped";
    if ((await this.workDone(from, compact.header)) === undefined) return "refused";
    if (this.known(hash)) return "skipped";
    this.inFlight.add(hash);
    const t0 = performance.now();
    try {
      const part = startReconstruction(compact, this.pool);
      const matchedMs = elapsed(t0);
      if (part.missing.length > 0) {
        const line = this.requests(from);
        if (!line) return "skipped";
        try {
          const req = { type: "getblocktxn" as const, hash: part.hashBytes, indexes: part.missing };
          const limits = { maxAnswer: MAX_BLOCK_SIZE + 34, ms: this.ctx.limits.compactTimeoutMs };
          const answer = await requestCompact(line, req, limits);
          if (!answer) return this.fallback(from, compact, hash);
          const asked = { ...req, shortIds: compact.shortIds, key: part.key };
          fillMissing(part, decodeBlockTxn(answer, asked));
        } catch (err) {
          await this.peers.penalizeError(from, err, "getblocktxn");
          return this.fallback(from, compact, hash);
        }
      }
      const raw = assemble(part);
      if (!raw) {
        this.ctx.log.debug({ hash, peer: from }, "compact block does not make its merkle root: full block");
        return this.fallback(from, compact, hash);
      }
      const rebuiltMs = elapsed(t0);
      // Passed on before it is processed (one turn of the event loop lets the writes leave first).
      // A failure to relay early (the chain closing under the checks) only means no early relay.
      const early = via === "push" && (await this.early.relay(from, compact, hash, raw).catch(() => false));
      if (early) await new Promise((resolve) => setImmediate(resolve));
      const out = await this.submit(from, raw, via).finally(() => this.early.settled(hash));
      // Where a hop's time goes (docs/lab.md, "Record-heavy blocks"): matching the pool, the getblocktxn
      // round trip if any, then processBlock.
      const ms = { matchedMs, rebuiltMs, processedMs: elapsed(t0) };
      this.ctx.log.debug(
        { hash, peer: from, asked: part.missing.length, out, early, ...ms },
        "compact block rebuilt",
      );
      return out;
    } finally {
      this.inFlight.delete(hash);
    }
  }

  /**
   * The full block from the announcer, by its parent as locator (its main chain's next block); a block
   * other than the one announced (its chain moved on) is dropped without blame, and a status asked.
   */
  private async fallback(from: string, compact: CompactBlock, hash: string): Promise<ReceiveOutcome> {
    const p = this.peers.get(from);
    if (!p) return "skipped";
    try {
      const parent = compact.header.slice(4, 36);
      const signal = AbortSignal.timeout(this.ctx.limits.requestTimeoutMs);
      const [raw] = await this.fetcher.fetch(p, [parent], { max: 1, signal });
      if (raw && rawBlockHash(raw) === hash) {
        await this.submit(from, raw);
        return "fallback";
      }
      void this.peers.requestStatus(p);
    } catch (err) {
      await this.peers.penalizeError(from, err, "full block after a compact one");
    }
    return "fallback";
  }

  /**
   * processBlock with the sender as source; its verdict costs the sender as gossip's would, except a rule of
   * the connect broken by a block pushed by a peer we chose (it may have relayed it before validation).
   */
  private async submit(from: string, raw: Uint8Array, via: CompactVia = "getcmpct"): Promise<ReceiveOutcome> {
    let r: ProcessResult;
    try {
      r = await this.ctx.chain.processBlock(raw, { source: from });
    } catch (err) {
      const code = err instanceof BlockError || err instanceof ChainError ? err.code : undefined;
      this.ctx.events.emit("gossip", {
        topic: "cmpct",
        direction: "in",
        verdict: "reject",
        ...(code ? { code } : {}),
      });
      if (err instanceof ChainError)
        await this.peers.penalize(from, err.penalty, `compact block: ${err.code}`);
      else if (
        err instanceof BlockError &&
        via === "push" &&
        CONNECT_RULE[err.code] &&
        this.early.chosen(from)
      )
        this.ctx.log.info(
          { peer: from, code: err.code },
          "pushed compact block invalid: no penalty (BIP 152)",
        );
      else if (err instanceof BlockError) await this.peers.penalizeError(from, err, "compact block");
      else this.ctx.log.debug({ peer: from, err: errorMessage(err) }, "compact block not processed");
      return "refused";
    }
    // Counted with the gossip topics' messages (jbc_gossip_messages_total, topic "cmpct").
    this.ctx.events.emit("gossip", { topic: "cmpct", direction: "in", verdict: "accept" });
    if (r.status !== "duplicate") this.ctx.events.emit("block:received", { hash: r.hash, from });
    if (r.status === "main") {
      this.peers.sawTip(from, r.hash);
      return "main";
    }
    const p = this.peers.get(from);
    if (p && (r.status === "orphan" || (r.status === "side" && r.needsBodies)))
      void this.peers.requestStatus(p);
    return "other";
  }
}
