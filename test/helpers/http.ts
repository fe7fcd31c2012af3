/**
 * One HTTP request with headers `fetch` will not let a caller set (`Host`, `Origin`, `Sec-Fetch-*`): what a
 * browser sends on a page's behalf, replayed exactly, for the request-guard tests.
 */
import { request } from "node:http";

export interface RawResponse {
  status: number;
  /** The body as text (the error shape's JSON for a refusal). */
  text: string;
  /** The error code of an error body, if it is one. */
  code: string | undefined;
}

/** Sends `method path` to `baseUrl`'s address with exactly these headers; resolves with the answer. */
export function rawRequest(
  baseUrl: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<RawResponse> {
  const u = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: u.hostname, port: u.port, method, path, headers, setHost: !("host" in headers) },
      (res) => {
        // A stream that was let through never ends: its status says enough.
        if (/event-stream/.test(res.headers["content-type"] ?? "")) {
          resolve({ status: res.statusCode ?? 0, text: "", code: undefined });
          res.destroy();
          return;
        }
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let code: string | undefined;
          try {
            code = (JSON.parse(text) as { error?: { code?: string } }).error?.code;
          } catch {
            code = undefined;
          }
          resolve({ status: res.statusCode ?? 0, text, code });
        });
        res.on("error", reject);
      },
    );
    req.setTimeout(15_000, () => req.destroy(new Error(`${method} ${path}: no answer in 15 s`)));
    req.on("error", reject);
    req.end(body);
  });
}
