/**
 * Block gossip: every gossiped block is judged once by the chain (processBlock, as its bytes, with the
 * sender as its source: a block nobody asked for) before gossipsub may forward it, and the verdict decides
 * the sender's penalty; blocks this node connects that did not come from the network (mined here) are
 * published. Only what the node would build on is forwarded: a block on its main chain. A side block
 * (stored within the margin, or kept as a header only) is judged valid but not relayed, as Bitcoin Core
 * announces only blocks that connect to its active chain (docs/protocol.md, "Blocks nobody asked for").
 *
 * An orphan (its parent not known yet) is neither forwarded nor dropped at once: its verdict waits until
 * the chain connects or stores it (the parent arrived by gossip, or from the sync the orphan started), and
 * is then Accept, so gossipsub forwards it as it would have; only if that takes longer than gossipsub keeps
 * the message (gossipHoldMs) is it Ignore. Forwarding it unjudged would let anyone relay junk through us;
 * answering Ignore at once, as before, left every node behind this one without the block until the next
 * block or the 30 s status round (Bitcoin Core and Lodestar do not relay unconnected blocks either, and
 * fetch the missing parent from the announcer, as the sync below does). An orphan that connects after
 * its wait is announced by status to the peers behind us, so they fetch it.
 */
import { type GossipsubMessage, TopicValidatorResult } from "@libp2p/gossipsub";
import { ChainError } from "../../chain/errors.ts";
import type { ChainEntry, ProcessResult } from "../../chain/types.ts";
import { type Block, encodeBlock } from "../../consensus/block.ts";
import { DecodeError } from "../../consensus/bytes.ts";
import { BlockError } from "../../consensus/errors.ts";
import { BoundedMap } from "../../util/bounded.ts";
import { errorMessage } from "../../util/errors.ts";
import { gossipHoldMs, type NetContext } from "../context.ts";
import type { Peers } from "../peers/peers.ts";
import { PROTOCOL_PENALTY } from "../peers/scores.ts";
import { rawBlockHash } from "../protocols.ts";

/** Most block hashes remembered as received from the network. */
const MAX_RECEIVED = 100_000;

/** Most orphans whose verdict waits at once (the chain's orphan pool holds 1,024). */
const MAX_HELD = 1_024;

/** A gossip message settled (verdict, penalty) by settleMessage. */
type Settlement = Parameters<typeof settleMessage>[2];

/** An orphan's message whose verdict waits for the block to connect. */
interface Held {
  msg: Settlement;
  timer: NodeJS.Timeout;
}

export class BlockGossip {
  /** Blocks that reached the chain from the network: connecting them must not republish them. */
  private readonly fromNetwork = new BoundedMap<string, true>(MAX_RECEIVED);
  /** Orphans' messages by block hash, waiting for the block to connect. */
  private readonly held = new Map<string, Held>();
  /** Orphans whose wait ran out: if one connects later, our peers hear of it by status instead. */
  private readonly lapsed = new BoundedMap<string, true>(MAX_HELD);
  /** Released orphans, forwarded after the verdict of the block that connected them. */
  private readonly released: Array<{ hash: string; msg: Settlement }> = [];
  private announcing = false;

  constructor(
    private readonly ctx: NetContext,
    private readonly peers: Peers,
    /** Compact relay (compact/relay.ts), when on: it announces our blocks; full ones only if someone needs them. */
    private readonly compact?: { relay(entry: ChainEntry, block: Block): void; needsFull(): boolean },
  ) {}

  /** Remembers that the block with this display hash came from the network (so it is not republished). */
  received(hash: string): void {
    this.fromNetwork.set(hash, true);
  }

  readonly onMessage = (evt: CustomEvent<GossipsubMessage>): void => {
    const { msgId, propagationSource, msg } = evt.detail;
    if (msg.topic !== this.ctx.topic) return;
    void this.judge(msgId, propagationSource.toString(), msg.data);
  };

  /** Runs a gossiped block through processBlock once, then tells gossipsub whether to forward it. */
  private async judge(msgId: string, from: string, data: Uint8Array): Promise<void> {
    const { chain, params } = this.ctx;
    let verdict = TopicValidatorResult.Ignore;
    let penalty = 0;
    let reason = "";
    let orphan = false;
    let hash: string | undefined;
    let code: string | undefined;
    try {
      if (data.length > params.maxBlockSize) {
        code = "OVERSIZED";
        penalty = PROTOCOL_PENALTY.OVERSIZED;
        reason = `gossip message of ${data.length} bytes exceeds ${params.maxBlockSize}`;
        verdict = TopicValidatorResult.Reject;
      } else {
        this.received(rawBlockHash(data));
        const r = await chain.processBlock(data, { source: from });
        // Forwarded only when it is on our main chain: a new tip, or a duplicate the tree already holds on
        // it (it came by sync or HTTP before this message, and peers behind us may lack it; gossipsub's own
        // seen-cache keeps a message from being judged twice). A side block is valid but not relayed.
        if (this.onMain(r)) {
          verdict = TopicValidatorResult.Accept;
          this.peers.sawTip(from, r.hash);
        }
        if (r.status === "orphan") orphan = true;
        if (r.status === "side" && r.needsBodies) this.askStatus(from);
        hash = r.hash;
        if (r.status !== "duplicate") this.ctx.events.emit("block:received", { hash: r.hash, from });
      }
    } catch (err) {
      if (err instanceof BlockError) {
        code = err.code;
        penalty = err.penalty;
        reason = `gossip block ${err.hash ?? ""}: ${err.code} ${err.message}`;
        // A block that is only early (TIME_TOO_NEW) is not the sender's fault: ignore, do not forward.
        verdict = err.penalty > 0 ? TopicValidatorResult.Reject : TopicValidatorResult.Ignore;
      } else if (err instanceof ChainError) {
        // Not invalid: the chain will not take it now (queue full, too little work, past the sender's share
        // of side headers). Never forwarded; the sender pays the error's penalty (0 but for SIDE_QUOTA).
        code = err.code;
        penalty = err.penalty;
        reason = `gossip block: ${err.code} ${err.message}`;
      } else if (err instanceof DecodeError) {
        code = "MALFORMED";
        penalty = PROTOCOL_PENALTY.BAD_BLOCK_ENCODING;
        reason = `gossip message is not a block: ${err.message}`;
        verdict = TopicValidatorResult.Reject;
      } else {
        this.ctx.log.debug({ peer: from, err: errorMessage(err) }, "gossip block not processed");
      }
    }
    const msg: Settlement = { topic: "blocks", msgId, from, verdict, penalty, reason, code };
    if (orphan && hash !== undefined) {
      if (!this.ctx.started()) return;
      this.hold(hash, msg);
      // The sender has the parent we miss: a status showing more work starts a sync from it.
      this.askStatus(from);
      return;
    }
    await settleMessage(this.ctx, this.peers, msg);
    this.flushReleased();
  }

  /** Whether the chain's answer puts the block on our main chain (what we would build on). */
  private onMain(r: ProcessResult): boolean {
    if (r.status === "main") return true;
    if (r.status !== "duplicate") return false;
    const e = this.ctx.chain.getEntry(r.hash);
    return e !== undefined && this.ctx.chain.isMain(e);
  }

  /** Asks a peer where its tip is (one request at a time per peer): a status with more work starts a sync. */
  private askStatus(from: string): void {
    const p = this.peers.get(from);
    if (p) void this.peers.requestStatus(p);
  }

  /** Keeps an orphan's verdict open until it connects, or Ignore once gossipsub would have dropped it. */
  private hold(hash: string, msg: Settlement): void {
    if (this.held.has(hash) || this.held.size >= MAX_HELD) {
      void settleMessage(this.ctx, this.peers, msg);
      return;
    }
    this.ctx.log.debug({ hash, peer: msg.from }, "orphan from gossip: verdict waits for its parent");
    const timer = setTimeout(() => {
      this.held.delete(hash);
      this.lapsed.set(hash, true);
      this.ctx.log.debug({ hash }, "orphan not connected in time: not forwarded");
      void settleMessage(this.ctx, this.peers, msg);
    }, gossipHoldMs(this.ctx.limits));
    timer.unref();
    this.held.set(hash, { msg, timer });
  }

  /**
   * A held orphan joined the main chain: it is forwarded, and the sender credited, once the call that
   * connected it has ended, so that its parent (whose verdict that call decides) goes first.
   */
  private release(hash: string): boolean {
    const h = this.held.get(hash);
    if (!h) return false;
    clearTimeout(h.timer);
    this.held.delete(hash);
    this.released.push({ hash, msg: h.msg });
    if (this.released.length === 1) setImmediate(() => this.flushReleased());
    return true;
  }

  private flushReleased(): void {
    for (const { hash, msg } of this.released.splice(0)) {
      this.ctx.log.debug({ hash }, "orphan connected: forwarded");
      void settleMessage(this.ctx, this.peers, { ...msg, verdict: TopicValidatorResult.Accept });
      this.peers.sawTip(msg.from, hash);
    }
  }

  /**
   * The chain's `side` listener: a held orphan stored on a side branch is valid but not on our main chain,
   * so its wait ends without forwarding it (Ignore, no penalty).
   */
  readonly onSide = (entry: ChainEntry): void => {
    const h = this.held.get(entry.hash);
    if (!h) return;
    clearTimeout(h.timer);
    this.held.delete(entry.hash);
    void settleMessage(this.ctx, this.peers, h.msg);
  };

  /** Ends the waits (at stop): gossipsub is going away, so no verdict is owed any more. */
  stop(): void {
    for (const h of this.held.values()) clearTimeout(h.timer);
    this.held.clear();
  }

  /** The chain's `connected` listener: publishes blocks that did not come from the network. */
  readonly onConnected = (entry: ChainEntry, block: Block): void => {
    if (this.release(entry.hash)) return;
    if (this.lapsed.delete(entry.hash) && this.ctx.started()) {
      // Gossip will not carry it any more: tell the peers behind us (once, after the blocks it unlocks).
      if (!this.announcing) {
        this.announcing = true;
        setImmediate(() => {
          this.announcing = false;
          this.ctx.log.debug({ tip: this.ctx.chain.tip.hash }, "late orphan connected: announcing our tip");
          this.peers.announce();
        });
      }
      return;
    }
    if (!this.ctx.started() || this.fromNetwork.has(entry.hash)) return;
    this.received(entry.hash);
    this.compact?.relay(entry, block);
    if (this.compact && !this.compact.needsFull()) return;
    const raw = encodeBlock(block);
    this.ctx.events.emit("gossip", { topic: "blocks", direction: "out" });
    this.ctx.node.services.pubsub.publish(this.ctx.topic, raw).then(
      (r) =>
        this.ctx.log.debug(
          { hash: entry.hash, height: entry.height, recipients: r.recipients.length },
          "block published",
        ),
      (err: unknown) =>
        this.ctx.log.warn({ hash: entry.hash, err: errorMessage(err) }, "cannot publish block"),
    );
  };
}

/** gossipsub's verdict as the word the gossip event carries. */
function verdictName(v: TopicValidatorResult): "accept" | "ignore" | "reject" {
  return v === TopicValidatorResult.Accept
    ? "accept"
    : v === TopicValidatorResult.Reject
      ? "reject"
      : "ignore";
}

/**
 * The end of judging a gossip message, for both topics: reports it (the `gossip` event), tells gossipsub
 * whether to forward it and charges the sender its penalty. False when the network stopped meanwhile.
 */
export async function settleMessage(
  ctx: NetContext,
  peers: Peers,
  m: {
    topic: "blocks" | "records";
    msgId: string;
    from: string;
    verdict: TopicValidatorResult;
    penalty: number;
    reason: string;
    code: string | undefined;
  },
): Promise<boolean> {
  const rejected = m.verdict === TopicValidatorResult.Reject;
  ctx.events.emit("gossip", {
    topic: m.topic,
    direction: "in",
    verdict: verdictName(m.verdict),
    ...(rejected && m.code ? { code: m.code } : {}),
  });
  if (!ctx.started()) return false;
  ctx.node.services.pubsub.reportMessageValidationResult(m.msgId, m.from, m.verdict);
  if (m.penalty > 0) await peers.penalize(m.from, m.penalty, m.reason);
  return true;
}
