/**
 * The status exchange (/jbc/status/1, docs/protocol.md): each side sends its network, genesis and tip in
 * one frame and reads the other's. These are the two ends of one exchange; what a status means for the
 * peer (joined, foreign, ahead of us) is decided in peers/.
 */
import type { Libp2p, PeerId, Stream } from "@libp2p/interface";
import { bytesEqual } from "../../consensus/bytes.ts";
import { hashToHex } from "../../consensus/header.ts";
import {
  decodeStatus,
  encodeFrames,
  encodeStatus,
  FrameReader,
  ProtocolError,
  STATUS_PROTOCOL,
  STATUS_SIZE,
  type Status,
  sendAll,
  withDeadline,
} from "../protocols.ts";

/** Whether a status is from another network (other network id or other genesis). */
export function isForeignStatus(s: Status, networkId: number, genesis: Uint8Array): boolean {
  return s.networkId !== networkId || !bytesEqual(s.genesis, genesis);
}

/** How a foreign peer describes its network, for logs and addPeer's rejection. */
export function describeNetwork(s: Status): string {
  return `network id 0x${s.networkId.toString(16)}, genesis ${hashToHex(s.genesis)}`;
}

/** Our end of a status request: sends `local()`, reads the peer's answer, all within `ms`. */
export async function fetchStatus(
  node: Libp2p,
  peer: PeerId,
  local: () => Status,
  ms: number,
): Promise<Status> {
  const stream = await node.dialProtocol(peer, STATUS_PROTOCOL, { signal: AbortSignal.timeout(ms) });
  return withDeadline(stream, ms, async () => {
    await sendAll(stream, encodeFrames([encodeStatus(local())]));
    await stream.close();
    const payload = await new FrameReader(stream).next(STATUS_SIZE);
    if (!payload) throw new ProtocolError("MALFORMED", "status stream closed without a status");
    return decodeStatus(payload);
  });
}

/**
 * Our end of a peer's status request: reads its status, calls `beforeAnswer` with it, answers with
 * `local()` (even a foreign peer, so it learns the mismatch too) and closes, all within `ms`.
 */
export async function answerStatus(
  stream: Stream,
  ms: number,
  local: () => Status,
  beforeAnswer: (theirs: Status) => void,
): Promise<Status> {
  return withDeadline(stream, ms, async () => {
    const payload = await new FrameReader(stream).next(STATUS_SIZE);
    if (!payload) throw new ProtocolError("MALFORMED", "status stream closed without a status");
    const s = decodeStatus(payload);
    beforeAnswer(s);
    await sendAll(stream, encodeFrames([encodeStatus(local())]));
    await stream.close();
    return s;
  });
}
