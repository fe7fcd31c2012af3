/**
 * Long-lived streams to one peer ("lines"), as gossipsub keeps one stream per peer and Bitcoin one TCP
 * connection: compact relay's announcements and requests are written on a stream opened once, not on a new
 * stream each. Opening a libp2p stream costs a round trip before its first byte is delivered: libp2p 3
 * negotiates the protocol (multistream-select) in full before `dialProtocol` returns, whatever
 * `negotiateFully` says (the option is declared in @libp2p/interface 3 but no code reads it, so setting it
 * to false changed nothing). At 200 ms one-way that was 400 ms per announcement and per request, on every
 * hop (issue 21; docs/protocol.md "Compact blocks").
 *
 * A line opens its stream on first use (or ahead of it, `open`), one opening at a time, and drops it when
 * it fails: the next use opens a new one.
 */
import type { Libp2p, PeerId, Stream } from "@libp2p/interface";
import { errorMessage } from "../../util/errors.ts";
import { encodeFrames, FrameReader, ProtocolError, sendAll, withDeadline } from "../protocols.ts";

/** An outbound stream to one peer on one protocol, opened once and reused. */
export class Line {
  private stream: Stream | undefined;
  private opening: Promise<Stream> | undefined;
  /** Closed for good (the peer left): no stream is opened again, which would dial the peer back. */
  private closed = false;
  /** Streams this line opened (for tests: one per peer unless one failed). */
  opened = 0;

  constructor(
    private readonly node: Libp2p,
    readonly peer: PeerId,
    private readonly protocol: string,
    /** Time to open the stream (its protocol negotiation included), in ms. */
    private readonly openMs: number,
    /** Called with every stream this line opens (the request line reads its answers from it). */
    private readonly onOpen?: (stream: Stream) => void,
  ) {}

  /** The open stream, opening one when there is none; concurrent callers share one opening. */
  async get(): Promise<Stream> {
    const s = this.stream;
    if (s && s.status === "open" && s.writeStatus === "writable") return s;
    if (this.closed) throw new Error("line closed: the peer left");
    this.opening ??= this.node
      .dialProtocol(this.peer, this.protocol, { signal: AbortSignal.timeout(this.openMs) })
      .then((stream) => {
        if (this.closed) {
          stream.abort(new Error("line closed"));
          throw new Error("line closed: the peer left");
        }
        this.opened++;
        this.stream = stream;
        this.onOpen?.(stream);
        return stream;
      })
      .finally(() => {
        this.opening = undefined;
      });
    return this.opening;
  }

  /** Opens the stream ahead of its first use, so that use pays no negotiation; a failure waits for it. */
  open(): void {
    this.get().catch(() => {});
  }

  /** Drops `stream` if it is still this line's (aborting it): the next use opens a new one. */
  drop(stream: Stream | undefined, err: Error): void {
    if (stream === undefined) return;
    if (this.stream === stream) this.stream = undefined;
    stream.abort(err);
  }

  /** Closes the line's stream for good (the peer left). */
  close(): void {
    this.closed = true;
    const s = this.stream;
    this.stream = undefined;
    s?.abort(new Error("line closed"));
  }

  /**
   * Writes one frame within `ms` (a full send buffer waits for the peer to read). A stream that fails is
   * dropped and the frame written once more on a new one: a frame may then arrive twice, which every
   * announcement type tolerates (a known block is skipped, a mode set again is the same mode).
   */
  async write(payload: Uint8Array, ms: number): Promise<void> {
    const frame = encodeFrames([payload]);
    for (let attempt = 1; ; attempt++) {
      let stream: Stream | undefined;
      try {
        stream = await this.get();
        const s = stream;
        await withDeadline(s, ms, () => sendAll(s, frame));
        return;
      } catch (err) {
        this.drop(stream, err instanceof Error ? err : new Error(errorMessage(err)));
        if (attempt >= 2) throw err;
      }
    }
  }
}

/** A request waiting for its answer frame. */
interface Pending {
  maxAnswer: number;
  resolve(answer: Uint8Array): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * Requests to one peer on one long-lived stream: each request is one frame, the server answers each with
 * one frame, in the order asked, so several may be in flight. A request not answered within its time
 * fails with TIMEOUT and resets the stream (the answers after it could no longer be matched): the other
 * requests then fail without blame and the next request opens a new stream.
 */
export class RequestLine {
  readonly line: Line;
  private readonly pending: Pending[] = [];
  private reader: { stream: Stream; frames: FrameReader } | undefined;
  private pumping = false;

  constructor(node: Libp2p, peer: PeerId, protocol: string, openMs: number) {
    this.line = new Line(node, peer, protocol, openMs, (stream) => {
      this.reader = { stream, frames: new FrameReader(stream) };
    });
  }

  /** Sends one request frame; resolves with its answer frame (at most `maxAnswer` bytes) within `ms`. */
  async request(payload: Uint8Array, opts: { maxAnswer: number; ms: number }): Promise<Uint8Array> {
    const stream = await this.line.get();
    const answer = new Promise<Uint8Array>((resolve, reject) => {
      const p: Pending = {
        maxAnswer: opts.maxAnswer,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.reset(stream, p, new ProtocolError("TIMEOUT", `no answer within ${opts.ms} ms`));
        }, opts.ms),
      };
      this.pending.push(p);
    });
    try {
      await sendAll(stream, encodeFrames([payload]));
    } catch (err) {
      this.reset(stream, undefined, err instanceof Error ? err : new Error(errorMessage(err)));
    }
    void this.pump();
    return answer;
  }

  /** Reads answers while requests wait, each bounded by its request's `maxAnswer`. */
  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.pending.length > 0 && this.reader) {
        const { stream, frames } = this.reader;
        const head = this.pending[0]!;
        let frame: Uint8Array | null;
        try {
          frame = await frames.next(head.maxAnswer);
        } catch (err) {
          this.reset(stream, head, err instanceof Error ? err : new Error(errorMessage(err)));
          continue;
        }
        if (this.pending[0] !== head) continue; // timed out and reset meanwhile
        if (frame === null) {
          this.reset(stream, undefined, new Error("the peer closed the request stream"));
          continue;
        }
        this.pending.shift();
        clearTimeout(head.timer);
        head.resolve(frame);
      }
    } finally {
      this.pumping = false;
    }
  }

  /**
   * Fails every waiting request and drops the stream: `culprit` (if any) with `err`, the others with an
   * error that costs the peer nothing (they were not late; the stream just cannot be trusted any more).
   */
  private reset(stream: Stream, culprit: Pending | undefined, err: Error): void {
    if (this.reader?.stream === stream) this.reader = undefined;
    this.line.drop(stream, err);
    for (const p of this.pending.splice(0)) {
      clearTimeout(p.timer);
      p.reject(
        p === culprit || culprit === undefined ? err : new Error(`request stream reset: ${err.message}`),
      );
    }
  }

  /** Fails what waits and closes the stream (the peer left). */
  close(): void {
    const s = this.reader?.stream;
    if (s) this.reset(s, undefined, new Error("peer left"));
    this.line.close();
  }
}
