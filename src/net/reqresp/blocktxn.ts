/**
 * /jbc/blocktxn/2 (docs/protocol.md "Compact blocks"): a peer asks for the records of a block by index
 * (BIP 152's getblocktxn, answered by blocktxn) or for a block's compact form (after a header
 * announcement, BIP 152's low-bandwidth getdata). The asker keeps one stream open per peer and writes one
 * frame per request; the server answers each with one frame, in the order asked (the asker matches them
 * so), for as long as the stream lives. An empty answer means the server does not have the block. The
 * server rate-limits per peer and request and refuses indexes the block does not have.
 */
import type { Connection, Stream } from "@libp2p/interface";
import type { BlockSource } from "../../chain/interfaces.ts";
import { recordOffsets } from "../../consensus/block.ts";
import { hashToHex } from "../../consensus/header.ts";
import { BoundedMap } from "../../util/bounded.ts";
import { TokenBucket } from "../../util/bucket.ts";
import {
  type CompactRequest,
  decodeRequest,
  encodeBlockTxn,
  encodeRequest,
  MAX_REQUEST_FRAME,
} from "../compact/codec.ts";
import type { RequestLine } from "../compact/lines.ts";
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

  /**
   * The BLOCKTXN_PROTOCOL handler: answers the requests on a peer's stream one by one until the peer
   * closes it. Idle between requests without limit (the peer keeps it for the next one); each answer must
   * be written within `requestTimeoutMs`. A request past the rate limit, or one that breaks the protocol,
   * costs the peer its penalty and ends the stream.
   */
  async serve(stream: Stream, conn: Connection): Promise<void> {
    const id = conn.remotePeer.toString();
    let bucket = this.buckets.get(id);
    if (!bucket) {
      bucket = new TokenBucket(this.limits.blockRequestBurst, this.limits.blockRequestsPerSec);
      this.buckets.set(id, bucket);
    }
    try {
      const reader = new FrameReader(stream);
      for (
        let req = await reader.next(MAX_REQUEST_FRAME);
        req !== null;
        req = await reader.next(MAX_REQUEST_FRAME)
      ) {
        if (!bucket.take()) {
          stream.abort(new Error("rate limit exceeded"));
          await this.penalties.penalize(
            id,
            PROTOCOL_PENALTY.RATE_LIMIT,
            "compact requests above the rate limit",
          );
          return;
        }
        const payload = req;
        await withDeadline(stream, this.limits.requestTimeoutMs, async () => {
          const answer = await this.answer(decodeRequest(payload));
          await sendAll(stream, encodeFrames([answer]));
        });
      }
      await stream.close();
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
 * Our end of one request, on the peer's request line: sends it and resolves with the one answer frame (at
 * most `maxAnswer` bytes) within `ms`. Undefined when the peer does not have the block (an empty answer);
 * decoding the answer against the request is the caller's.
 */
export async function requestCompact(
  line: RequestLine,
  req: CompactRequest,
  opts: { maxAnswer: number; ms: number },
): Promise<Uint8Array | undefined> {
  const answer = await line.request(encodeRequest(req), opts);
  return answer.length === 0 ? undefined : answer;
}
