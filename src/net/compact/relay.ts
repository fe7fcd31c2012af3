/**
 * Compact block relay (BIP 152; docs/protocol.md "Compact blocks"). Which peers speak it is learnt from
 * identify (they handle CMPCT_PROTOCOL). A block this node connects that did not come by gossip or sync
 * (mined here, or rebuilt from a compact block) is announced to every compact peer but its sender: as a
 * compact block to the peers that asked for high-bandwidth mode, as its header to the others, which ask
 * for the compact block if they want it (low-bandwidth mode). Like Bitcoin Core, this node asks for
 * high-bandwidth mode from the 3 compact peers that most recently gave it a new tip first, and tells the
 * one it drops. Full blocks are still published by gossip while a peer on the block topic does not
 * speak compact blocks.
 */
import type { Connection, IdentifyResult, Stream } from "@libp2p/interface";
import type { ChainEntry } from "../../chain/types.ts";
import type { Block } from "../../consensus/block.ts";
import { encodeHeader } from "../../consensus/header.ts";
import { BoundedMap } from "../../util/bounded.ts";
import { errorMessage } from "../../util/errors.ts";
import type { NetContext } from "../context.ts";
import type { Peers } from "../peers/peers.ts";
import {
  encodeFrames,
  FrameReader,
  ProtocolError,
  rawBlockHash,
  sendAll,
  withDeadline,
} from "../protocols.ts";
import type { BlockFetcher } from "../reqresp/blocks.ts";
import { CompactServer } from "../reqresp/blocktxn.ts";
import { AnnounceType, CMPCT_PROTOCOL, decodeCompact, encodeCompact, MAX_ANNOUNCE_FRAME } from "./codec.ts";
import { CompactReceiver } from "./receive.ts";
import { makeCompact, type PendingRecords } from "./reconstruct.ts";

/** Peers asked for high-bandwidth mode at once (BIP 152: 3). */
export const MAX_HIGH_BANDWIDTH = 3;

export class CompactRelay {
  /** Joined peers whose identify lists CMPCT_PROTOCOL. */
  private readonly speakers = new Set<string>();
  /** Peers that asked us for high-bandwidth mode (compact blocks pushed to them). */
  private readonly pushTo = new Set<string>();
  /** Peers we asked for high-bandwidth mode, the one that last gave us a new tip first at the front. */
  private readonly chosen: string[] = [];
  /** The last compact form built, for the peers that ask for it after its header. */
  private cached: { hash: string; bytes: Uint8Array } | undefined;
  /** Who sent a block we rebuilt (not announced back to it). */
  private readonly senders = new BoundedMap<string, string>(1_024);
  readonly receiver: CompactReceiver;
  readonly server: CompactServer;

  constructor(
    private readonly ctx: NetContext,
    private readonly peers: Peers,
    fetcher: BlockFetcher,
    pool: PendingRecords | undefined,
  ) {
    this.receiver = new CompactReceiver(ctx, peers, fetcher, pool);
    this.server = new CompactServer(ctx.chain, ctx.limits, peers, (hash) => this.compactOf(hash));
  }

  /** libp2p's `peer:identify` listener: whether the peer speaks compact blocks. */
  readonly onIdentify = (evt: CustomEvent<IdentifyResult>): void => {
    const id = evt.detail.peerId.toString();
    if (evt.detail.protocols.includes(CMPCT_PROTOCOL)) this.speakers.add(id);
    else this.speakers.delete(id);
  };

  /** A peer disconnected: its modes go. */
  forget(id: string): void {
    this.speakers.delete(id);
    this.pushTo.delete(id);
    const at = this.chosen.indexOf(id);
    if (at >= 0) this.chosen.splice(at, 1);
  }

  /** Whether a peer speaks compact blocks (as far as identify has told). */
  speaks(id: string): boolean {
    return this.speakers.has(id);
  }

  /** Peers we asked for high-bandwidth mode, most recent first (for tests and diagnostics). */
  get highBandwidth(): readonly string[] {
    return this.chosen;
  }

  /** Whether a peer on the block topic does not speak compact blocks: full blocks are still gossiped then. */
  needsFull(): boolean {
    return this.ctx.node.services.pubsub
      .getSubscribers(this.ctx.topic)
      .some((p) => !this.speakers.has(p.toString()));
  }

  /**
   * The network's `block:received` listener: a peer that gave us a new tip first (by compact block or
   * by gossip) becomes one of the 3 we ask for high-bandwidth mode; the one it displaces is told.
   */
  readonly onReceived = (e: { hash: string; from: string }): void => {
    if (this.ctx.chain.tip.hash !== e.hash || !this.speakers.has(e.from)) return;
    const at = this.chosen.indexOf(e.from);
    if (at === 0) return;
    if (at > 0) {
      this.chosen.splice(at, 1);
      this.chosen.unshift(e.from);
      return;
    }
    this.chosen.unshift(e.from);
    void this.send(e.from, Uint8Array.of(AnnounceType.SENDCMPCT, 1));
    const out = this.chosen.length > MAX_HIGH_BANDWIDTH ? this.chosen.pop() : undefined;
    if (out) void this.send(out, Uint8Array.of(AnnounceType.SENDCMPCT, 0));
  };

  /** A block connected here that no peer relayed to us in full: announces it to every compact peer. */
  relay(entry: ChainEntry, block: Block): void {
    const from = this.senders.get(entry.hash);
    let compact: Uint8Array | undefined;
    let header: Uint8Array | undefined;
    for (const p of this.peers.joined()) {
      if (p.id === from || !this.speakers.has(p.id)) continue;
      if (this.pushTo.has(p.id)) {
        compact ??= this.compactFor(entry.hash, block);
        void this.send(p.id, compact);
      } else {
        header ??= Uint8Array.of(AnnounceType.HEADER, ...encodeHeader(block.header));
        void this.send(p.id, header);
      }
    }
    // One announcement per block, counted as a gossip topic's publication is (topic "cmpct").
    if (compact || header) this.ctx.events.emit("gossip", { topic: "cmpct", direction: "out" });
  }

  /** The CMPCTBLOCK announcement of a block, built once per block. */
  private compactFor(hash: string, block: Block): Uint8Array {
    if (this.cached?.hash !== hash) this.cached = { hash, bytes: encodeCompact(makeCompact(block)) };
    const out = new Uint8Array(1 + this.cached.bytes.length);
    out[0] = AnnounceType.CMPCTBLOCK;
    out.set(this.cached.bytes, 1);
    return out;
  }

  /** A stored block's compact form (what getcmpct answers), undefined when it is not stored. */
  private async compactOf(hash: string): Promise<Uint8Array | undefined> {
    if (this.cached?.hash === hash) return this.cached.bytes;
    const block = await this.ctx.chain.getBlock(hash);
    if (!block) return undefined;
    this.cached = { hash, bytes: encodeCompact(makeCompact(block)) };
    return this.cached.bytes;
  }

  /** Pushes one announcement frame to a peer; a failure is only logged (the peer may have gone). */
  private async send(id: string, payload: Uint8Array): Promise<void> {
    const p = this.peers.get(id);
    if (!p || !this.ctx.started()) return;
    const ms = this.ctx.limits.compactTimeoutMs;
    try {
      const stream = await this.ctx.node.dialProtocol(p.peerId, CMPCT_PROTOCOL, {
        signal: AbortSignal.timeout(ms),
      });
      await withDeadline(stream, ms, async () => {
        await sendAll(stream, encodeFrames([payload]));
        await stream.close();
      });
    } catch (err) {
      this.ctx.log.debug({ peer: id, err: errorMessage(err) }, "compact announcement not sent");
    }
  }

  /** The CMPCT_PROTOCOL handler: one announcement frame from a joined peer. */
  async serve(stream: Stream, conn: Connection): Promise<void> {
    const id = conn.remotePeer.toString();
    try {
      const frame = await withDeadline(stream, this.ctx.limits.statusTimeoutMs, async () => {
        const reader = new FrameReader(stream);
        const f = await reader.next(MAX_ANNOUNCE_FRAME);
        if (!f || !(await reader.atEnd())) throw new ProtocolError("MALFORMED", "not one announcement frame");
        return f;
      });
      void stream.close().catch(() => {});
      if (this.peers.get(id)?.joined) this.announced(id, frame);
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)));
      await this.peers.penalizeError(id, err, "compact announcement");
    }
  }

  /** Dispatches an announcement by its type byte; a malformed one throws (the peer's fault). */
  private announced(id: string, f: Uint8Array): void {
    const body = f.subarray(1);
    if (f[0] === AnnounceType.SENDCMPCT && f.length === 2 && f[1]! <= 1) {
      if (f[1] === 1) this.pushTo.add(id);
      else this.pushTo.delete(id);
    } else if (f[0] === AnnounceType.HEADER && f.length === 81) {
      this.senders.set(rawBlockHash(body), id);
      void this.receiver.onHeader(id, body.slice());
    } else if (f[0] === AnnounceType.CMPCTBLOCK) {
      const compact = decodeCompact(body);
      this.senders.set(rawBlockHash(compact.header), id);
      void this.receiver.onCompact(id, compact);
    } else {
      throw new ProtocolError("MALFORMED", `announcement of type ${f[0]} and ${f.length} bytes`);
    }
  }
}
