/**
 * /jbc/blocktxn/1 (docs/protocol.md "Compact blocks"): a peer asks for the records of a block by index
 * (BIP 152's getblocktxn, answered by blocktxn) or for a block's compact form (after a header
 * announcement, BIP 152's low-bandwidth getdata). One frame each way; an empty answer means the server
 * does not have the block. The server rate-limits per peer and refuses indexes the block does not have.
 */
import type { Connection, Libp2p, PeerId, Stream } from "@libp2p/interface";
import type { BlockSource } from "../../chain/interfaces.ts";
import { recordOffsets } from "../../consensus/block.ts";
import { hashToHex } from "../../consensus/header.ts";
import { BoundedMap } from "../../util/bounded.ts";
import { TokenBucket } from "../../util/bucket.ts";
import {
  BLOCKTXN_PROTOCOL,
  type CompactRequest,
  decodeRequest,
  encodeBlockTxn,
  encodeRequest,
  MAX_REQUEST_FRAME,
} from "../compact/codec.ts";
import type { NetworkLimits } from "../options.ts";
import { PROTOCOL_PENALTY } from "../peers/scores.ts";
import { encodeFrames, FrameReader, ProtocolError, sendAll, withDeadline } from "../protocols.ts";
import type { Penalties } from "./blocks.ts";

/** Most peers whose request buckets the server remembers. */
const MAX_SERVED_PEERS = 10_000;

/** Serves getblocktxn and getcmpct requests, each peer within its own token bucket. */
export class CompactServer {
  private readonly buckets = new BoundedMap<string, TokenBucket>(MAX_SERVED_PEERS);

  constructor(
    private readonly chain: Pick<BlockSource, "getRawBlock">,
    private readonly limits: NetworkLimits,
    private readonly penalties: Penalties,
    /** A stored block's compact form (relay.ts builds it), or undefined when the block is not stored. */
    private readonly compactOf: (hash: string) => Promise<Uint8Array | undefined>,
  ) {}

  /** The BLOCKTXN_PROTOCOL handler. */
  async serve(stream: Stream, conn: Connection): Promise<void> {
    const id = conn.remotePeer.toString();
    let bucket = this.buckets.get(id);
    if (!bucket) {
      bucket = new TokenBucket(this.limits.blockRequestBurst, this.limits.blockRequestsPerSec);
      this.buckets.set(id, bucket);
    }
    if (!bucket.take()) {
      stream.abort(new Error("rate limit exceeded"));
      await this.penalties.penalize(id, PROTOCOL_PENALTY.RATE_LIMIT, "compact requests above the rate limit");
      return;
    }
    try {
      await withDeadline(stream, this.limits.requestTimeoutMs, async () => {
        const payload = await new FrameReader(stream).next(MAX_REQUEST_FRAME);
        if (!payload) throw new ProtocolError("MALFORMED", "compact request stream closed without a request");
        const answer = await this.answer(decodeRequest(payload));
        await sendAll(stream, encodeFrames([answer]));
        await stream.close();
      });
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)));
      await this.penalties.penalizeError(id, err, "compact request from peer");
    }
  }

  /** The answer's frame: the compact block, or the records asked for; empty for a block not stored. */
  private async answer(req: CompactRequest): Promise<Uint8Array> {
    const hash = hashToHex(req.hash);
    if (req.type === "getcmpct") return (await this.compactOf(hash)) ?? new Uint8Array(0);
    const raw = await this.chain.getRawBlock(hash);
    if (!raw) return new Uint8Array(0);
    const offsets = recordOffsets(raw);
    const count = offsets.length - 1;
    const last = req.indexes[req.indexes.length - 1]!;
    if (last >= count)
      throw new ProtocolError("MALFORMED", `getblocktxn index ${last} in a block of ${count} records`);
    const records = req.indexes.map((i) => raw.subarray(offsets[i]!, offsets[i + 1]!));
    return encodeBlockTxn(req.hash, records);
  }
}

/**
 * Our end of one request: sends it, reads the one answer frame (at most `maxAnswer` bytes), all within
 * `ms`. Undefined when the peer does not have the block (an empty answer); decoding the answer against
 * the request is the caller's.
 */
export async function requestCompact(
  node: Libp2p,
  peer: PeerId,
  req: CompactRequest,
  opts: { maxAnswer: number; ms: number },
): Promise<Uint8Array | undefined> {
  const stream = await node.dialProtocol(peer, BLOCKTXN_PROTOCOL, { signal: AbortSignal.timeout(opts.ms) });
  return withDeadline(stream, opts.ms, async () => {
    await sendAll(stream, encodeFrames([encodeRequest(req)]));
    await stream.close();
    const reader = new FrameReader(stream);
    const answer = await reader.next(opts.maxAnswer);
    if (answer === null)
      throw new ProtocolError("MALFORMED", "compact answer stream closed without an answer");
    if (!(await reader.atEnd())) throw new ProtocolError("MALFORMED", "bytes after the compact answer");
    return answer.length === 0 ? undefined : answer;
  });
}
