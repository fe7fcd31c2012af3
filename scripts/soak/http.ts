/**
 * The soak's one low-level HTTP call: any method, headers exactly as given, the answer's body counted and
 * dropped unless asked for (a /blockchain.json over hundreds of full blocks must not land in the attacker's
 * memory), and a deadline that destroys the socket. It never throws: a failure is status 0 with a reason.
 */
import { type Agent, request } from "node:http";

export interface Reply {
  /** HTTP status, or 0 when no answer came (refused, reset, timed out). */
  status: number;
  /** Bytes of the body received. */
  bytes: number;
  /** Milliseconds from sending to the end of the body (or the failure). */
  ms: number;
  /** The body as text, when `keep` was set (at most `keep` bytes of it). */
  text: string;
  /** Why no answer came (status 0). */
  error?: string;
}

export interface Call {
  method?: string;
  headers?: Record<string, string>;
  body?: Uint8Array | string;
  /** Give up after this long (default 30 s). */
  timeoutMs?: number;
  /** Keep up to this many bytes of the body as text (default 0: count only). */
  keep?: number;
  agent?: Agent;
  /** Local address to send from (127.0.0.2, …: a node tells sources apart by address). */
  localAddress?: string;
  /** Abandons the request (status 0) when aborted: a soak that stops does not wait for a long read. */
  signal?: AbortSignal;
}

/** Sends one request to `base` + `path`; resolves with what came back, never rejects. */
export function call(base: string, path: string, c: Call = {}): Promise<Reply> {
  const u = new URL(base);
  const t0 = performance.now();
  const keep = c.keep ?? 0;
  return new Promise((resolve) => {
    let done = false;
    const onAbort = (): void => void req.destroy(new Error("stopped"));
    const finish = (r: Omit<Reply, "ms">): void => {
      if (done) return;
      done = true;
      // A long-lived signal must not collect one listener per request.
      c.signal?.removeEventListener("abort", onAbort);
      resolve({ ...r, ms: performance.now() - t0 });
    };
    const headers = { ...c.headers };
    if (c.body !== undefined) headers["content-length"] = String(Buffer.byteLength(c.body));
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path,
        method: c.method ?? "GET",
        headers,
        setHost: !Object.keys(headers).some((k) => k.toLowerCase() === "host"),
        ...(c.agent ? { agent: c.agent } : {}),
        ...(c.localAddress ? { localAddress: c.localAddress } : {}),
      },
      (res) => {
        let bytes = 0;
        const kept: Buffer[] = [];
        res.on("data", (chunk: Buffer) => {
          if (bytes < keep) kept.push(chunk.subarray(0, keep - bytes));
          bytes += chunk.length;
        });
        res.on("end", () =>
          finish({ status: res.statusCode ?? 0, bytes, text: Buffer.concat(kept).toString("utf8") }),
        );
        // A body cut short (the node broke the connection mid-answer) is no answer.
        res.on("aborted", () => finish({ status: 0, bytes, text: "", error: "answer cut short" }));
        res.on("error", (err) => finish({ status: 0, bytes, text: "", error: err.message }));
      },
    );
    req.setTimeout(c.timeoutMs ?? 30_000, () => req.destroy(new Error("timed out")));
    if (c.signal?.aborted) onAbort();
    else c.signal?.addEventListener("abort", onAbort, { once: true });
    req.on("error", (err) => finish({ status: 0, bytes: 0, text: "", error: err.message }));
    req.end(c.body);
  });
}

/** The error code of a JSON error body (`{ error: { code } }`), if the text is one. */
export function errorCode(text: string): string | undefined {
  try {
    return (JSON.parse(text) as { error?: { code?: string } }).error?.code;
  } catch {
    return undefined;
  }
}

/** Resolves after `ms`, or at once when `signal` is aborted. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
