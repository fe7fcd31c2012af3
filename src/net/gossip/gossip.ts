/**
 * Block gossip: every gossiped block is judged once by the chain (processBlock) before gossipsub may
 * forward it, and the verdict decides the sender's penalty; blocks this node connects that did not come
 * from the network (mined here) are published.
 */
import { type GossipsubMessage, TopicValidatorResult } from "@libp2p/gossipsub";
import type { ChainEntry } from "../../chain/types.ts";
import { type Block, decodeBlock, encodeBlock } from "../../consensus/block.ts";
import { DecodeError } from "../../consensus/bytes.ts";
import { BlockError } from "../../consensus/errors.ts";
import { BoundedMap } from "../../util/bounded.ts";
import { errorMessage } from "../../util/errors.ts";
import type { NetContext } from "../context.ts";
import type { Peers } from "../peers/peers.ts";
import { PROTOCOL_PENALTY } from "../peers/scores.ts";
import { rawBlockHash } from "../protocols.ts";

/** Most block hashes remembered as received from the network. */
const MAX_RECEIVED = 100_000;

export class BlockGossip {
  /** Blocks that reached the chain from the network: connecting them must not republish them. */
  private readonly fromNetwork = new BoundedMap<string, true>(MAX_RECEIVED);

  constructor(
    private readonly ctx: NetContext,
    private readonly peers: Peers,
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
    let code: string | undefined;
    try {
      if (data.length > params.maxBlockSize) {
        code = "OVERSIZED";
        penalty = PROTOCOL_PENALTY.OVERSIZED;
        reason = `gossip message of ${data.length} bytes exceeds ${params.maxBlockSize}`;
        verdict = TopicValidatorResult.Reject;
      } else {
        const block = decodeBlock(data);
        this.received(rawBlockHash(data));
        const r = await chain.processBlock(block, data);
        if (r.status === "main" || r.status === "side") {
          verdict = TopicValidatorResult.Accept;
          this.peers.sawTip(from, r.hash);
        }
        if (r.status === "orphan") orphan = true;
        if (r.status !== "duplicate") this.ctx.events.emit("block:received", { hash: r.hash, from });
      }
    } catch (err) {
      if (err instanceof BlockError) {
        code = err.code;
        penalty = err.penalty;
        reason = `gossip block ${err.hash ?? ""}: ${err.code} ${err.message}`;
        // A block that is only early (TIME_TOO_NEW) is not the sender's fault: ignore, do not forward.
        verdict = err.penalty > 0 ? TopicValidatorResult.Reject : TopicValidatorResult.Ignore;
      } else if (err instanceof DecodeError) {
        code = "MALFORMED";
        penalty = PROTOCOL_PENALTY.BAD_BLOCK_ENCODING;
        reason = `gossip message is not a block: ${err.message}`;
        verdict = TopicValidatorResult.Reject;
      } else {
        this.ctx.log.debug({ peer: from, err: errorMessage(err) }, "gossip block not processed");
      }
    }
    const msg = { topic: "blocks", msgId, from, verdict, penalty, reason, code } as const;
    if (!(await settleMessage(this.ctx, this.peers, msg))) return;
    if (orphan) {
      // The sender has the parent we miss: ask where its tip is (one request at a time per peer), and
      // a status showing more work starts a sync from it.
      const p = this.peers.get(from);
      if (p) void this.peers.requestStatus(p);
    }
  }

  /** The chain's `connected` listener: publishes blocks that did not come from the network. */
  readonly onConnected = (entry: ChainEntry, block: Block): void => {
    if (!this.ctx.started() || this.fromNetwork.has(entry.hash)) return;
    this.received(entry.hash);
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
