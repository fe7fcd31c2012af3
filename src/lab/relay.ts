/**
 * A TCP delay line: accepts on `listen`, connects to `target`, and forwards each chunk read in either
 * direction after `delayMs` (+ a uniform 0..jitterMs), never reordering (a chunk is due no earlier than
 * the one before it: a TCP stream has one order). Buffers are bounded: when more than `maxBufferedBytes`
 * wait in one direction, reading from that side pauses until the queue has drained below half, so a
 * fast sender meets TCP backpressure instead of growing memory.
 *
 * The lab runs it in the dialing node's namespace (see docs/lab.md): the upstream connection then leaves
 * from the dialer's own address, so the listener sees each peer's real IP.
 */
import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";

export interface RelayRoute {
  listen: { host: string; port: number };
  target: { host: string; port: number };
}

export interface RelayOptions {
  delayMs: number;
  jitterMs?: number;
  maxBufferedBytes?: number;
  /** Random numbers in [0, 1) for the jitter (seeded by the lab). */
  random?: () => number;
}

interface Chunk {
  due: number;
  data: Buffer;
}

/** One direction of one relayed connection. */
class Pipe {
  private readonly queue: Chunk[] = [];
  private queued = 0;
  private lastDue = 0;
  private timer: NodeJS.Timeout | undefined;
  private blocked = false;
  private ended = false;

  constructor(
    private readonly from: Socket,
    private readonly to: Socket,
    private readonly opts: Required<RelayOptions>,
  ) {
    from.on("data", (data: Buffer) => this.push(data));
    from.on("end", () => {
      this.ended = true;
      this.flush();
    });
    to.on("drain", () => {
      this.blocked = false;
      this.flush();
    });
  }

  private push(data: Buffer): void {
    const jitter = this.opts.jitterMs > 0 ? this.opts.random() * this.opts.jitterMs : 0;
    const due = Math.max(performance.now() + this.opts.delayMs + jitter, this.lastDue);
    this.lastDue = due;
    this.queue.push({ due, data });
    this.queued += data.length;
    if (this.queued > this.opts.maxBufferedBytes) this.from.pause();
    this.flush();
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const now = performance.now();
    while (!this.blocked && this.queue.length > 0 && this.queue[0]!.due <= now) {
      const c = this.queue.shift()!;
      this.queued -= c.data.length;
      if (!this.to.destroyed && !this.to.write(c.data)) this.blocked = true;
    }
    if (this.from.isPaused() && this.queued < this.opts.maxBufferedBytes / 2) this.from.resume();
    if (this.queue.length > 0) {
      if (!this.blocked) this.timer = setTimeout(() => this.flush(), Math.ceil(this.queue[0]!.due - now));
    } else if (this.ended && !this.to.destroyed) {
      this.to.end();
    }
  }

  get bytes(): number {
    return this.queued;
  }

  stop(): void {
    clearTimeout(this.timer);
  }
}

/** The relay: one listener per route. */
export class Relay {
  private readonly servers: Server[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly pipes = new Set<Pipe>();
  private readonly opts: Required<RelayOptions>;

  /** Bytes waiting in the relay now, over every connection and direction. */
  queuedBytes(): number {
    let n = 0;
    for (const p of this.pipes) n += p.bytes;
    return n;
  }

  /** Changes the delay (and jitter) of every chunk read from now on, on open connections too. */
  setDelay(delayMs: number, jitterMs = 0): void {
    if (!(delayMs >= 0) || !(jitterMs >= 0)) throw new RangeError("delay must be >= 0");
    this.opts.delayMs = delayMs;
    this.opts.jitterMs = jitterMs;
  }

  constructor(opts: RelayOptions) {
    this.opts = {
      jitterMs: 0,
      maxBufferedBytes: 1024 * 1024,
      random: Math.random,
      ...opts,
    };
    if (!(this.opts.delayMs >= 0) || !(this.opts.jitterMs >= 0)) throw new RangeError("delay must be >= 0");
  }

  /** Listens on every route; resolves with the bound ports (port 0 picks one). */
  async start(routes: RelayRoute[]): Promise<number[]> {
    const ports: number[] = [];
    for (const r of routes) {
      const server = createServer({ noDelay: true }, (down) => this.accept(down, r));
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(r.listen.port, r.listen.host, () => resolve());
      });
      this.servers.push(server);
      const a = server.address();
      ports.push(typeof a === "object" && a ? a.port : 0);
    }
    return ports;
  }

  private accept(down: Socket, r: RelayRoute): void {
    const up = tcpConnect({ host: r.target.host, port: r.target.port, noDelay: true });
    this.sockets.add(down);
    this.sockets.add(up);
    const pipes = [new Pipe(down, up, this.opts), new Pipe(up, down, this.opts)];
    for (const p of pipes) this.pipes.add(p);
    const close = (): void => {
      for (const p of pipes) {
        p.stop();
        this.pipes.delete(p);
      }
      down.destroy();
      up.destroy();
      this.sockets.delete(down);
      this.sockets.delete(up);
    };
    down.on("error", close);
    up.on("error", close);
    down.on("close", close);
    up.on("close", close);
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await Promise.all(this.servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}

/** Percentile (0..100) of a list of numbers, by nearest rank; NaN for an empty list. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/**
 * Ping-pong through a relay: `rounds` round trips of a small message to an echo server at `target`
 * through `via`; returns each one-way time (half the round trip) in ms.
 */
export async function pingPong(via: { host: string; port: number }, rounds: number): Promise<number[]> {
  const sock = tcpConnect({ ...via, noDelay: true });
  await new Promise<void>((resolve, reject) => {
    sock.once("connect", resolve);
    sock.once("error", reject);
  });
  const oneWay: number[] = [];
  // One pending round trip at a time: the echo of "p" settles it.
  let settle: ((err?: Error) => void) | undefined;
  sock.on("data", () => settle?.());
  sock.on("error", (err) => settle?.(err));
  sock.on("close", () => settle?.(new Error("connection closed")));
  try {
    for (let i = 0; i < rounds; i++) {
      const t0 = performance.now();
      await new Promise<void>((resolve, reject) => {
        settle = (err) => (err ? reject(err) : resolve());
        sock.write("p");
      });
      oneWay.push((performance.now() - t0) / 2);
    }
  } finally {
    settle = undefined;
    sock.destroy();
  }
  return oneWay;
}

/** An echo server (for pingPong); resolves with its port. */
export async function echoServer(host: string, port = 0): Promise<{ port: number; close(): Promise<void> }> {
  const socks = new Set<Socket>();
  const server = createServer({ noDelay: true }, (s) => {
    socks.add(s);
    s.on("data", (d) => s.write(d));
    s.on("error", () => s.destroy());
    s.on("close", () => socks.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(port, host, () => resolve()));
  const a = server.address();
  return {
    port: typeof a === "object" && a ? a.port : 0,
    close: () =>
      new Promise<void>((r) => {
        for (const s of socks) s.destroy();
        server.close(() => r());
      }),
  };
}
