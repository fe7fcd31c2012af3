import type { z } from "zod";
import { DevnetView, ExplorerInfo, explorerRoutes } from "../../src/api/devnet.ts";
import { buildPath, CLIENT_HEADER, routes } from "../../src/api/routes.ts";
import { ApiError, ErrorBody } from "../../src/api/schemas.ts";

/**
 * The explorer talks only to the node that served it (same origin, so no CORS), with the API's own
 * route table and schemas: every response is checked, so a node that answers with something unexpected
 * shows an error instead of a half-drawn page.
 */

const TIMEOUT_MS = 8000;

async function getJson<S extends z.ZodType>(path: string, schema: S): Promise<z.output<S>> {
  let res: Response;
  try {
    res = await fetch(path, {
      signal: AbortSignal.timeout(TIMEOUT_MS),
      // The node wants this header on anything that changes it (docs/api.md, "Who may ask what"); the
      // explorer sends it on every request so that a POST added later needs nothing more.
      headers: { accept: "application/json", [CLIENT_HEADER]: "explorer" },
    });
  } catch (err) {
    const why =
      err instanceof Error && err.name === "TimeoutError" ? "no answer in 8 s" : "connection failed";
    throw new ApiError(0, "UNREACHABLE", why);
  }
  const body: unknown = await res.json().catch(() => undefined);
  if (!res.ok) {
    const e = ErrorBody.safeParse(body);
    // A proxy or a restarting server answers 502/503 without the node's error body.
    if (!e.success)
      throw new ApiError(
        res.status,
        res.status >= 502 ? "UNREACHABLE" : `HTTP_${res.status}`,
        `HTTP ${res.status}`,
      );
    throw new ApiError(res.status, e.data.error.code, e.data.error.message);
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success)
    throw new ApiError(res.status, "BAD_RESPONSE", `${path} answered with an unexpected shape`);
  return parsed.data;
}

/** A route answering bytes (a raw block): the bytes, or the ApiError of its error body. */
async function getBytes(path: string): Promise<Uint8Array> {
  let res: Response;
  try {
    res = await fetch(path, {
      signal: AbortSignal.timeout(30_000),
      headers: { [CLIENT_HEADER]: "explorer" },
    });
  } catch {
    throw new ApiError(0, "UNREACHABLE", "connection failed");
  }
  if (!res.ok) {
    const e = ErrorBody.safeParse(await res.json().catch(() => undefined));
    throw e.success
      ? new ApiError(res.status, e.data.error.code, e.data.error.message)
      : new ApiError(res.status, `HTTP_${res.status}`, `HTTP ${res.status}`);
  }
  return new Uint8Array(await res.arrayBuffer());
}

function query(q: Record<string, number | string | undefined>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined) p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : "";
}

export const api = {
  status: () => getJson(routes.getStatus.path, routes.getStatus.response),
  blocks: (q: { limit?: number; before?: number }) =>
    getJson(`${routes.getBlocks.path}${query(q)}`, routes.getBlocks.response),
  /** One block with a page of its records (from `from`, the node's default page size). */
  block: (id: string | number, q: { from?: number; limit?: number } = {}) =>
    getJson(`${buildPath(routes.getBlock.path, { id: String(id) })}${query(q)}`, routes.getBlock.response),
  /** The block's serialized bytes, to recompute its merkle root from every record in the browser. */
  rawBlock: (hash: string) => getBytes(buildPath(routes.getRawBlock.path, { hash })),
  tree: (depth: number) => getJson(`${routes.getTree.path}${query({ depth })}`, routes.getTree.response),
  peers: () => getJson(routes.getPeers.path, routes.getPeers.response),
  record: (id: string) => getJson(buildPath(routes.getRecord.path, { id }), routes.getRecord.response),
  records: (q: { author: string; limit?: number; before?: string }) =>
    getJson(`${routes.getRecords.path}${query(q)}`, routes.getRecords.response),
  mempool: (q: { limit?: number; after?: string }) =>
    getJson(`${routes.getMempool.path}${query(q)}`, routes.getMempool.response),
  /** The latest witnessed checkpoint and its cosigners (503 on a node without a witness). */
  checkpoint: () => getJson(routes.getCheckpoint.path, routes.getCheckpoint.response),
  /** Network parameters the charts need (target block time). */
  explorerInfo: () => getJson(explorerRoutes.getExplorerInfo.path, ExplorerInfo),
  /** Every node of the devnet and how its tip relates to this node's chain. */
  devnet: () => getJson(explorerRoutes.getDevnet.path, DevnetView),
};

/** True when the node did not answer at all (as opposed to answering with an error). */
export function isUnreachable(err: unknown): boolean {
  return err instanceof ApiError && err.code === "UNREACHABLE";
}
