/**
 * Checkpoint cosignature gossip (docs/protocol.md, "Checkpoint cosignatures"): one signer's signature of
 * one checkpoint per message, on the network's checkpoints topic. The node's witness (src/witness) judges
 * each message; this file bounds what reaches it and reports the verdict to gossipsub:
 *   - a message above MAX_COSIGN_BYTES is rejected unread, with the oversized penalty;
 *   - each peer has a rate (COSIGN_PER_SEC, COSIGN_BURST): beyond it messages are ignored unread, with no
 *     penalty (an honest node signs at most one a block and two a second, src/witness, and relays its peers');
 *   - a signature that does not verify or a message that does not parse is rejected with the witness's
 *     penalty (a peer relays only what it checked); one for a checkpoint off this node's chain is ignored.
 */
import { type GossipsubMessage, TopicValidatorResult } from "@libp2p/gossipsub";
import { BoundedMap } from "../../util/bounded.ts";
import { TokenBucket } from "../../util/bucket.ts";
import { errorMessage } from "../../util/errors.ts";
import type { NetContext } from "../context.ts";
import type { CosignSink } from "../options.ts";
import type { Peers } from "../peers/peers.ts";
import { PROTOCOL_PENALTY } from "../peers/scores.ts";

/** Most bytes of a cosignature message (src/witness/message.ts MAX_COSIGN_BYTES). */
export const MAX_COSIGN_MESSAGE = 1024;
/** Cosignatures a peer may have judged per second, and at once. */
export const COSIGN_PER_SEC = 4;
export const COSIGN_BURST = 40;
/** Peers whose buckets are remembered at once. */
const MAX_RATED_PEERS = 10_000;

/** Gossip topic for checkpoint cosignatures, beside the block topic. */
export function checkpointsTopic(params: { name: string; genesisHash: string }): string {
  return `/jbc/${params.name}/${params.genesisHash.slice(0, 16)}/checkpoints/1`;
}

export class CosignGossip {
  private readonly buckets = new BoundedMap<string, TokenBucket>(MAX_RATED_PEERS);

  constructor(
    private readonly ctx: NetContext,
    private readonly peers: Peers,
    private readonly sink: CosignSink,
    readonly topic: string,
  ) {}

  /** Subscribes and starts publishing this node's cosignatures. */
  start(): void {
    const pubsub = this.ctx.node.services.pubsub;
    pubsub.addEventListener("gossipsub:message", this.onMessage);
    pubsub.subscribe(this.topic);
    this.sink.on("publish", this.publish);
  }

  stop(): void {
    this.sink.off("publish", this.publish);
    this.ctx.node.services.pubsub.removeEventListener("gossipsub:message", this.onMessage);
  }

  readonly onMessage = (evt: CustomEvent<GossipsubMessage>): void => {
    const { msgId, propagationSource, msg } = evt.detail;
    if (msg.topic !== this.topic) return;
    void this.judge(msgId, propagationSource.toString(), msg.data);
  };

  private async judge(msgId: string, from: string, data: Uint8Array): Promise<void> {
    let verdict = TopicValidatorResult.Ignore;
    let penalty = 0;
    let reason = "";
    if (data.length > MAX_COSIGN_MESSAGE) {
      verdict = TopicValidatorResult.Reject;
      penalty = PROTOCOL_PENALTY.OVERSIZED;
      reason = `cosignature of ${data.length} bytes exceeds ${MAX_COSIGN_MESSAGE}`;
    } else if (this.allow(from)) {
      const v = this.sink.receive(data);
      if (v.verdict === "accept") verdict = TopicValidatorResult.Accept;
      else if (v.verdict === "reject") {
        verdict = TopicValidatorResult.Reject;
        penalty = v.penalty;
        reason = v.reason;
      }
    }
    if (!this.ctx.started()) return;
    this.ctx.node.services.pubsub.reportMessageValidationResult(msgId, from, verdict);
    if (penalty > 0) await this.peers.penalize(from, penalty, reason);
  }

  private allow(from: string): boolean {
    let b = this.buckets.get(from);
    if (!b) {
      b = new TokenBucket(COSIGN_BURST, COSIGN_PER_SEC);
      this.buckets.set(from, b);
    }
    return b.take();
  }

  private readonly publish = (message: Uint8Array): void => {
    if (!this.ctx.started()) return;
    this.ctx.node.services.pubsub.publish(this.topic, message).catch((err: unknown) => {
      this.ctx.log.debug({ err: errorMessage(err) }, "cosignature not published");
    });
  };
}
