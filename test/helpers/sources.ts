/**
 * HTTP clients that speak from a chosen loopback address (127.0.0.2, 127.0.0.3, …: Linux routes all of
 * 127/8 to lo), so one machine can play several clients that a node tells apart by address, as it does
 * remote ones. For the mempool flood tests and bench/dos-mempool.ts. Requests carry the node's API token
 * (read from its data directory), so they pass whatever rule guards changing routes.
 */
import { Agent, request } from "node:http";

export interface Answer {
  status: number;
  body: unknown;
  /** Milliseconds from sending to the whole answer. */
  ms: number;
}

/** A keep-alive client from `localAddress` to the node at `url`. `close` ends its sockets. */
export class SourceClient {
  private readonly agent: Agent;
  private readonly base: URL;

  constructor(
    url: string,
    readonly localAddress: string,
    private readonly token?: string,
  ) {
    this.base = new URL(url);
    this.agent = new Agent({ keepAlive: true, maxSockets: 8, localAddress });
  }

  /** POSTs one record's data as application/octet-stream (the node makes it a data record). */
  postData(data: Uint8Array): Promise<Answer> {
    return this.send("POST", "/api/records", data, "application/octet-stream");
  }

  /** POSTs a JSON body (a record or an array of records). */
  postJson(path: string, body: unknown): Promise<Answer> {
    return this.send("POST", path, Buffer.from(JSON.stringify(body)), "application/json");
  }

  get(path: string): Promise<Answer> {
    return this.send("GET", path);
  }

  close(): void {
    this.agent.destroy();
  }

  private send(method: string, path: string, body?: Uint8Array, type?: string): Promise<Answer> {
    const t0 = performance.now();
    return new Promise((resolve, reject) => {
      const req = request(
        {
          agent: this.agent,
          host: this.base.hostname,
          port: this.base.port,
          method,
          path,
          headers: {
            ...(type ? { "content-type": type } : {}),
            ...(body ? { "content-length": body.length } : {}),
            ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            let parsed: unknown = text;
            try {
              parsed = JSON.parse(text);
            } catch {
              // Not JSON: keep the text.
            }
            resolve({ status: res.statusCode ?? 0, body: parsed, ms: performance.now() - t0 });
          });
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  }
}
