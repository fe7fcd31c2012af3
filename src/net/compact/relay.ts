/**
 * Compact block relay (BIP 152; docs/protocol.md "Compact blocks"). Which peers speak it is learnt from
 * identify (they handle CMPCT_PROTOCOL). A block this node connects that did not come by gossip or sync
 * (mined here, or rebuilt from a compact block) is announced to every compact peer but its sender: as a
 * compact block to the peers that asked for high-bandwidth mode, as its header to the others, which ask
 * for the compact block if they want it (low-bandwidth mode). This node asks for high-bandwidth mode from
 * its first 3 compact peers as they join, then, as Bitcoin Core does, from the 3 that most recently gave
 * it a new tip first, telling the one it drops. Full blocks are still published by gossip while a peer on
 * the block topic does not speak compact blocks.
 *
 * A compact block pushed to us that extends our tip and passes every check before the connect is pushed on
 * to the high-bandwidth peers as soon as it is rebuilt, before processBlock connects it (`relayEarly`, BIP
 * 152's exception and Bitcoin Core's NewPoWValidBlock); the header announcements to low-bandwidth peers
 * still wait for the block to connect.
 *
 * Every frame to a peer goes on one long-lived stream per direction and protocol (lines.ts), opened when
 * the peer joins: a new stream per announcement cost a round trip of protocol negotiation per hop.
 */
import type { Connection, IdentifyResult, Stream } from "@libp2p/interface";
import type { ChainEntry } from "../../chain/types.ts";
import type { Block } from "../../consensus/block.ts";
import { encodeHeader } from "../../consensus/header.ts";
import { BoundedMap } from "../../util/bounded.ts";
import { errorMessage } from "../../util/errors.ts";
import type { NetContext } from "../context.ts";
import type { PeerInfo } from "../options.ts";
import type { Peers } from "../peers/peers.ts";
import { FrameReader, ProtocolError, rawBlockHash } from "../protocols.ts";
import type { BlockFetcher } from "../reqresp/blocks.ts";
import { CompactServer } from "../reqresp/blocktxn.ts";
import {
  AnnounceType,
  BLOCKTXN_PROTOCOL,
  CMPCT_PROTOCOL,
  type CompactBlock,
  decodeCompact,
  encodeCompact,
  MAX_ANNOUNCE_FRAME,
} from "./codec.ts";
import { Line, RequestLine } from "./lines.ts";
import { CompactReceiver } from "./receive.ts";
import { makeCompact, type PendingRecords } from "./reconstruct.ts";

/** Peers asked for high-bandwidth mode at once (BIP 152: 3). */
export const MAX_HIGH_BANDWIDTH = 3;

/** How long a peer we stopped asking for high-bandwidth mode may still push honestly (frames in flight). */
const DEMOTED_GRACE_MS = 30_000;

/** A compact peer's two outbound lines: announcements, and requests (getcmpct, getblocktxn). */
interface PeerLines {
  announce: Line;
  requests: RequestLine;
}

export class CompactRelay {
  /** Joined peers whose identify lists CMPCT_PROTOCOL. */
  private readonly speakers = new Set<string>();
  /** Peers that asked us for high-bandwidth mode (compact blocks pushed to them). */
  private readonly pushTo = new Set<string>();
  /** Peers we asked for high-bandwidth mode, the one that last gave us a new tip first at the front. */
  private readonly chosen: string[] = [];
  /** The outbound lines of every compact peer that joined. */
  private readonly lines = new Map<string, PeerLines>();
  /** The last compact form built, for the peers that ask for it after its header. */
  private cached: { hash: string; bytes: Uint8Array } | undefined;
  /** Who sent a block we rebuilt (not announced back to it). */
  private readonly senders = new BoundedMap<string, string>(1_024);
  /** Peers a block was pushed to before it was validated (not pushed again once it connects). */
  private readonly pushedEarly = new BoundedMap<string, ReadonlySet<string>>(1_024);
  /**
   * The rebuilt bytes of blocks pushed on before validation, while they are processed: the peers they were
   * pushed to may ask for records by getblocktxn before the block is stored (at most 16, receive.ts).
   */
  private readonly rebuilt = new Map<string, Uint8Array>();
  /** When we last told a peer we no longer want its pushes. */
  private readonly demoted = new BoundedMap<string, number>(64);
  readonly receiver: CompactReceiver;
  readonly server: CompactServer;

  constructor(
    private readonly ctx: NetContext,
    private readonly peers: Peers,
    fetcher: BlockFetcher,
    pool: PendingRecords | undefined,
  ) {
    this.receiver = new CompactReceiver(ctx, peers, fetcher, pool, (id) => this.linesOf(id)?.requests, {
      relay: (from, compact, hash, raw) => this.relayEarly(from, compact, hash, raw),
      settled: (hash) => this.rebuilt.delete(hash),
      chosen: (id) =>
        this.chosen.includes(id) || Date.now() - (this.demoted.get(id) ?? -Infinity) < DEMOTED_GRACE_MS,
    });
    const blocks = { getRawBlock: async (h: string) => this.rebuilt.get(h) ?? ctx.chain.getRawBlock(h) };
    this.server = new CompactServer(blocks, ctx.limits, peers, (hash) => this.compactOf(hash));
  }

  /** libp2p's `peer:identify` listener: whether the peer speaks compact blocks. */
  readonly onIdentify = (evt: CustomEvent<IdentifyResult>): void => {
    const id = evt.detail.peerId.toString();
    if (evt.detail.protocols.includes(CMPCT_PROTOCOL)) {
      this.speakers.add(id);
      this.attach(id);
    } else this.speakers.delete(id);
  };

  /** The network's `peer:joined` listener (a peer may join before or after identify answers). */
  readonly onJoined = (p: PeerInfo): void => {
    this.attach(p.peerId);
  };

  /**
   * A compact peer that has joined: its lines are opened now, so the first announcement and the first
   * request pay no negotiation, and it is asked for high-bandwidth mode while fewer than 3 peers are. A
   * network starting in low-bandwidth mode paid a round trip more per hop until each node had received
   * blocks from three peers first (in the lab, most nodes had not after a dozen blocks).
   */
  private attach(id: string): void {
    if (!this.speakers.has(id) || this.lines.has(id)) return;
    const lines = this.linesOf(id);
    if (!lines) return;
    lines.announce.open();
    lines.requests.line.open();
    if (this.chosen.length < MAX_HIGH_BANDWIDTH && !this.chosen.includes(id)) {
      this.chosen.push(id);
      void this.send(id, Uint8Array.of(AnnounceType.SENDCMPCT, 1));
    }
  }

  /**
   * A joined peer's lines, made on first need: at join for a peer identify says speaks compact blocks, or
   * when a peer identify has not told about yet announces one (it evidently speaks the protocol).
   */
  private linesOf(id: string): PeerLines | undefined {
    const have = this.lines.get(id);
    if (have) return have;
    const p = this.peers.get(id);
    if (!p?.joined || !this.ctx.started()) return undefined;
    const { node, limits } = this.ctx;
    const lines = {
      announce: new Line(node, p.peerId, CMPCT_PROTOCOL, limits.compactTimeoutMs),
      requests: new RequestLine(node, p.peerId, BLOCKTXN_PROTOCOL, limits.compactTimeoutMs),
    };
    this.lines.set(id, lines);
    return lines;
  }

  /** A peer disconnected: its modes and lines go. */
  forget(id: string): void {
    this.speakers.delete(id);
    this.pushTo.delete(id);
    const at = this.chosen.indexOf(id);
    if (at >= 0) this.chosen.splice(at, 1);
    const lines = this.lines.get(id);
    this.lines.delete(id);
    lines?.announce.close();
    lines?.requests.close();
  }

  /** Whether a peer speaks compact blocks (as far as identify has told). */
  speaks(id: string): boolean {
    return this.speakers.has(id);
  }

  /** Peers we asked for high-bandwidth mode, most recent first (for tests and diagnostics). */
  get highBandwidth(): readonly string[] {
    return this.chosen;
  }

  /** Peers that asked us for high-bandwidth mode (for tests and diagnostics). */
  get pushingTo(): ReadonlySet<string> {
    return this.pushTo;
  }

  /** Streams opened to a peer so far, announcements and requests (for tests: one each unless one failed). */
  streamsOpened(id: string): { announce: number; requests: number } | undefined {
    const l = this.lines.get(id);
    return l && { announce: l.announce.opened, requests: l.requests.line.opened };
  }

  /** Whether a peer on the block topic does not speak compact blocks: full blocks are still gossiped then. */
  needsFull(): boolean {
    return this.ctx.node.services.pubsub
      .getSubscribers(this.ctx.topic)
      .some((p) => !this.speakers.has(p.toString()));
  }

  /**
   * The network's `block:received` listener: a peer that gave us a new tip first (by compact block or
   * by gossip) moves to the front of the 3 we ask for high-bandwidth mode; the one it displaces is told.
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
    if (out) {
      this.demoted.set(out, Date.now());
      void this.send(out, Uint8Array.of(AnnounceType.SENDCMPCT, 0));
    }
  };

  /**
   * A pushed compact block, rebuilt and about to be processed: when it extends our tip and passes every
   * check processBlock makes before the connect (Chain.checkBeforeConnect: header, size, records, merkle
   * root, miner record, bits, time, height, checkpoints, authors), it is pushed to the high-bandwidth peers
   * now, not after its validation (p50 243 ms of a 449 ms hop in the lab, docs/benchmarks.md). What is left
   * unchecked is the connect's: a record already confirmed, a bad signature. A block that fails there has
   * cost its forger a block's proof of work on the tip for one flood of the network, and the peers we
   * pushed it to do not penalise us for it (receive.ts CONNECT_RULE). Each hash at most once. Returns
   * whether it was pushed to anyone.
   */
  async relayEarly(from: string, compact: CompactBlock, hash: string, raw: Uint8Array): Promise<boolean> {
    if (!this.ctx.started() || this.pushTo.size === 0 || this.pushedEarly.has(hash)) return false;
    if (!(await this.ctx.chain.checkBeforeConnect(raw))) return false;
    const to = [...this.pushTo].filter(
      (id) => id !== from && this.speakers.has(id) && this.peers.get(id)?.joined,
    );
    if (to.length === 0 || this.pushedEarly.has(hash)) return false;
    this.pushedEarly.set(hash, new Set(to));
    this.rebuilt.set(hash, raw);
    const frame = compactFrame(encodeCompact(compact));
    for (const id of to) void this.send(id, frame);
    this.ctx.log.debug({ hash, from, pushed: to.length }, "compact: relayed before validation");
    this.ctx.events.emit("gossip", { topic: "cmpct", direction: "out" });
    return true;
  }

  /** A block connected here that no peer relayed to us in full: announces it to every compact peer. */
  relay(entry: ChainEntry, block: Block): void {
    const from = this.senders.get(entry.hash);
    const early = this.pushedEarly.get(entry.hash);
    let compact: Uint8Array | undefined;
    let header: Uint8Array | undefined;
    let pushed = 0;
    let announced = 0;
    for (const p of this.peers.joined()) {
      if (p.id === from || !this.speakers.has(p.id) || early?.has(p.id)) continue;
      if (this.pushTo.has(p.id)) {
        compact ??= this.compactFor(entry.hash, block);
        void this.send(p.id, compact);
        pushed++;
      } else {
        header ??= Uint8Array.of(AnnounceType.HEADER, ...encodeHeader(block.header));
        void this.send(p.id, header);
        announced++;
      }
    }
    if (!compact && !header) return;
    this.ctx.log.debug({ hash: entry.hash, from, pushed, announced }, "compact: relayed");
    // One announcement per block, counted as a gossip topic's publication is (topic "cmpct").
    if (!early) this.ctx.events.emit("gossip", { topic: "cmpct", direction: "out" });
  }

  /** The CMPCTBLOCK announcement of a block, built once per block. */
  private compactFor(hash: string, block: Block): Uint8Array {
    if (this.cached?.hash !== hash) this.cached = { hash, bytes: encodeCompact(makeCompact(block)) };
    return compactFrame(this.cached.bytes);
  }

  /** A stored block's compact form (what getcmpct answers), undefined when it is not stored. */
  private async compactOf(hash: string): Promise<Uint8Array | undefined> {
    if (this.cached?.hash === hash) return this.cached.bytes;
    const block = await this.ctx.chain.getBlock(hash);
    if (!block) return undefined;
    this.cached = { hash, bytes: encodeCompact(makeCompact(block)) };
    return this.cached.bytes;
  }

  /** Writes one announcement frame on the peer's line; a failure is only logged (the peer may have gone). */
  private async send(id: string, payload: Uint8Array): Promise<void> {
    const line = this.lines.get(id)?.announce;
    if (!line || !this.ctx.started()) return;
    try {
      await line.write(payload, this.ctx.limits.compactTimeoutMs);
    } catch (err) {
      this.ctx.log.debug({ peer: id, err: errorMessage(err) }, "compact announcement not sent");
    }
  }

  /**
   * The CMPCT_PROTOCOL handler: a peer's announcement stream, read frame by frame for as long as the peer
   * keeps it open. A frame that breaks the protocol costs the peer its penalty and ends the stream.
   */
  async serve(stream: Stream, conn: Connection): Promise<void> {
    const id = conn.remotePeer.toString();
    try {
      const reader = new FrameReader(stream);
      for (
        let f = await reader.next(MAX_ANNOUNCE_FRAME);
        f !== null;
        f = await reader.next(MAX_ANNOUNCE_FRAME)
      )
        this.announced(id, f);
      await stream.close();
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)));
      await this.peers.penalizeError(id, err, "compact announcement");
    }
  }

  /**
   * Dispatches an announcement by its type byte; a malformed one throws (the peer's fault). A mode is
   * taken from any connected peer (its lines may open before our status exchange with it ends); blocks
   * only from joined peers.
   */
  private announced(id: string, f: Uint8Array): void {
    const body = f.subarray(1);
    const p = this.peers.get(id);
    if (f[0] === AnnounceType.SENDCMPCT && f.length === 2 && f[1]! <= 1) {
      if (!p) return;
      if (f[1] === 1) this.pushTo.add(id);
      else this.pushTo.delete(id);
    } else if (f[0] === AnnounceType.HEADER && f.length === 81) {
      if (!p?.joined) return;
      this.senders.set(rawBlockHash(body), id);
      void this.receiver.onHeader(id, body.slice());
    } else if (f[0] === AnnounceType.CMPCTBLOCK) {
      const compact = decodeCompact(body);
      if (!p?.joined) return;
      this.senders.set(rawBlockHash(compact.header), id);
      void this.receiver.onCompact(id, compact);
    } else {
      throw new ProtocolError("MALFORMED", `announcement of type ${f[0]} and ${f.length} bytes`);
    }
  }
}

/** A compact block's bytes as a CMPCTBLOCK announcement frame. */
function compactFrame(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + bytes.length);
  out[0] = AnnounceType.CMPCTBLOCK;
  out.set(bytes, 1);
  return out;
}
