/**
 * Record gossip (docs/protocol.md "Records"): one record's bytes per message on the network's records
 * topic; a message's id is its publication (net/context.ts `publicationId`), so the same record can be
 * announced again, and the pool's ALREADY_PENDING drops the repeats.
 * Each peer has a rate (a token bucket in records and one in bytes, NetworkLimits.recordGossip*, kept
 * after it disconnects): messages beyond it are ignored before anything is decoded or verified, with no
 * penalty, since an honest node relays as fast as its own clients submit (docs/protocol.md).
 * Every other message goes through the mempool's one admission path, under the peer's share of the pool,
 * and its verdict decides what gossipsub does with it (docs/ledger-design.md's table): admitted → accept
 * (relay); already pending, already
 * confirmed or pool full → ignore (no relay, no penalty); malformed, too large, a miner record or a bad
 * signature → reject (no relay) and the mempool's penalty on the sender's score, the same score that bad
 * blocks raise, so a peer gossiping bad signatures is banned like one gossiping bad blocks.
 * Records the node admits over the API are published here, and so are records a reorg returned to the
 * pool: after a partition heals, the winning side's nodes never had the losing side's records, and
 * without this they would stay pending on the losing side's nodes only, never reaching a miner there.
 * A publish that reached no peer (none connected yet, or none subscribed) leaves the record in an
 * unbroadcast set, as Bitcoin Core keeps one: it is published again when a peer joins this node's mesh
 * for the topic (a graft: the peer is subscribed and a stream to it is open, which a subscription alone
 * does not yet mean), until a publish reaches someone or the record leaves the pool.
 */
import { type GossipsubMessage, type MeshPeer, TopicValidatorResult } from "@libp2p/gossipsub";
import type { Mempool, MempoolEntry } from "../../mempool/index.ts";
import { BoundedMap } from "../../util/bounded.ts";
import { TokenBucket } from "../../util/bucket.ts";
import { errorMessage } from "../../util/errors.ts";
import type { NetContext } from "../context.ts";
import type { Peers } from "../peers/peers.ts";
import { PROTOCOL_PENALTY } from "../peers/scores.ts";
import { settleMessage } from "./gossip.ts";

/** Records kept for a later announcement at most (the oldest are forgotten first). */
const MAX_UNBROADCAST = 10_000;
/** Peers whose record buckets are remembered at once (as for block requests; older ones are forgotten). */
const MAX_RATED_PEERS = 10_000;
/** A peer over its rate is logged at most this often (the log must not become the flood). */
const RATE_LOG_MS = 10_000;

/** A peer's record allowance: records and bytes, refilled continuously, `burstSec` seconds of each at most. */
class RecordAllowance {
  private readonly records: TokenBucket;
  private readonly bytes: TokenBucket;
  /** Messages ignored since the last log line about this peer. */
  ignored = 0;
  loggedAt = Number.NEGATIVE_INFINITY;

  constructor(perSec: number, bytesPerSec: number, burstSec: number) {
    this.records = new TokenBucket(perSec * burstSec, perSec);
    this.bytes = new TokenBucket(bytesPerSec * burstSec, bytesPerSec);
  }

  /** Spends one record of `size` bytes if both buckets hold it. */
  take(size: number): boolean {
    if (!this.records.has(1) || !this.bytes.has(size)) return false;
    return this.records.take(1) && this.bytes.take(size);
  }
}

export class RecordGossip {
  /** Ids of pending records whose last publish reached no peer, oldest first. */
  private readonly unbroadcast = new BoundedMap<string, true>(MAX_UNBROADCAST);
  private readonly allowances = new BoundedMap<string, RecordAllowance>(MAX_RATED_PEERS);

  constructor(
    private readonly ctx: NetContext,
    private readonly peers: Peers,
    private readonly mempool: Mempool,
    /** The records topic of this network (protocols.ts `recordsTopic`). */
    readonly topic: string,
  ) {}

  readonly onMessage = (evt: CustomEvent<GossipsubMessage>): void => {
    const { msgId, propagationSource, msg } = evt.detail;
    if (msg.topic !== this.topic) return;
    void this.judge(msgId, propagationSource.toString(), msg.data);
  };

  /** Admits a gossiped record once, then tells gossipsub whether to forward it. */
  private async judge(msgId: string, from: string, data: Uint8Array): Promise<void> {
    const max = this.ctx.params.maxRecordSize;
    let verdict = TopicValidatorResult.Ignore;
    let penalty = 0;
    let reason = "";
    let code: string | undefined;
    if (data.length > max) {
      code = "OVERSIZED";
      // Checked by admit too; priced here as for an oversized block message.
      verdict = TopicValidatorResult.Reject;
      penalty = PROTOCOL_PENALTY.OVERSIZED;
      reason = `gossip record of ${data.length} bytes exceeds ${max}`;
    } else if (!this.allow(from, data.length)) {
      // Over the peer's rate: not judged, not relayed, not penalised (verdict Ignore).
    } else {
      try {
        const r = await this.mempool.admit(data, { kind: "peer", peer: from });
        if (r.ok) verdict = TopicValidatorResult.Accept;
        else if (r.error.penalty > 0) {
          code = r.error.code;
          verdict = TopicValidatorResult.Reject;
          penalty = r.error.penalty;
          reason = `gossip record${r.id ? ` ${r.id}` : ""}: ${r.error.code} ${r.error.message}`;
        }
      } catch (err) {
        // The record index failed: our problem, not the sender's.
        this.ctx.log.warn({ peer: from, err: errorMessage(err) }, "gossip record not admitted");
      }
    }
    await settleMessage(this.ctx, this.peers, {
      topic: "records",
      msgId,
      from,
      verdict,
      penalty,
      reason,
      code,
    });
  }

  /** Whether `from` may have one more record of `size` bytes judged now (its allowance). */
  private allow(from: string, size: number): boolean {
    const now = performance.now();
    let a = this.allowances.get(from);
    if (!a) {
      const { recordGossipPerSec, recordGossipBytesPerSec, recordGossipBurstSec } = this.ctx.limits;
      a = new RecordAllowance(recordGossipPerSec, recordGossipBytesPerSec, recordGossipBurstSec);
      this.allowances.set(from, a);
    }
    if (a.take(size)) return true;
    a.ignored++;
    if (now - a.loggedAt >= RATE_LOG_MS) {
      this.ctx.log.info(
        { peer: from, ignored: a.ignored },
        "peer gossips records above its rate: ignoring them",
      );
      a.loggedAt = now;
      a.ignored = 0;
    }
    return false;
  }

  /** The mempool's `added` listener: publishes records submitted to this node's API or returned by a reorg. */
  readonly onAdded = (entry: MempoolEntry): void => {
    const kind = entry.source.kind;
    if (!this.ctx.started() || (kind !== "api" && kind !== "reorg")) return;
    this.publish(entry);
  };

  /** gossipsub's `gossipsub:graft`: a peer joined the records mesh, so the unbroadcast records go out. */
  readonly onGraft = (evt: CustomEvent<MeshPeer>): void => {
    if (evt.detail.topic !== this.topic || this.unbroadcast.size === 0 || !this.ctx.started()) return;
    const ids = [...this.unbroadcast.entries()].map(([id]) => id);
    this.ctx.log.debug({ records: ids.length, peer: evt.detail.peerId }, "announcing unbroadcast records");
    for (const id of ids) {
      const entry = this.mempool.get(id);
      if (entry) this.publish(entry);
      else this.unbroadcast.delete(id); // confirmed, expired or evicted meanwhile
    }
  };

  /** Records waiting for a peer to announce them to. */
  get unbroadcastCount(): number {
    return this.unbroadcast.size;
  }

  private publish(entry: MempoolEntry): void {
    this.ctx.events.emit("gossip", { topic: "records", direction: "out" });
    this.ctx.node.services.pubsub.publish(this.topic, entry.bytes).then(
      (r) => {
        this.ctx.log.debug({ id: entry.id, recipients: r.recipients.length }, "record published");
        if (r.recipients.length > 0) this.unbroadcast.delete(entry.id);
        else this.unbroadcast.set(entry.id, true);
      },
      (err: unknown) => {
        this.unbroadcast.set(entry.id, true);
        this.ctx.log.debug({ id: entry.id, err: errorMessage(err) }, "record not published yet");
      },
    );
  }
}
