import type { ApiBackend } from "../backend.ts";
import type { EventHub } from "../events.ts";
import type { ApiHandlers, GroupHandlers } from "../handler.ts";
import type { RecordsApiOptions } from "../records.ts";
import type { ApiGroup } from "../routes.ts";
import { getBlocksApi } from "./blocks.ts";
import { getHeadersApi } from "./headers.ts";
import { getLegacyApi } from "./legacy.ts";
import { getMiningApi } from "./mining.ts";
import { getNodeApi, type NodeApiOptions } from "./node.ts";
import { getPeersApi } from "./peers.ts";
import { getRecordsApi } from "./records.ts";

/**
 * Every route's handler, group by group (after Lodestar's `api/impl/api.ts` `getApi(opts, modules)`). Each
 * group's factory gets only the part of the backend it uses, so it can be built and called on its own.
 */

export interface HandlerOptions extends NodeApiOptions {
  records?: RecordsApiOptions | undefined;
  /** Bytes of serialized /blockchain.json blocks kept between requests. */
  legacyCacheBytes?: number | undefined;
  /** Bytes of block bodies the block view keeps between requests. */
  viewCacheBytes?: number | undefined;
}

export interface HandlerModules {
  backend: ApiBackend;
  hub: EventHub;
}

/** Each group's handlers: a group of the route table without a factory here does not compile. */
export function getGroupHandlers(
  opts: HandlerOptions,
  { backend, hub }: HandlerModules,
): { [G in ApiGroup]: GroupHandlers<G> } {
  return {
    node: getNodeApi(opts, { backend, hub }),
    blocks: getBlocksApi({ viewCacheBytes: opts.viewCacheBytes }, backend),
    headers: getHeadersApi(backend),
    records: getRecordsApi(opts.records ?? {}, backend),
    peers: getPeersApi(backend),
    mining: getMiningApi(backend),
    legacy: getLegacyApi({ cacheBytes: opts.legacyCacheBytes }, backend),
  };
}

/** One handler per route of the table: the groups' handlers in one map (typed complete, see handler.ts). */
export function getApiHandlers(opts: HandlerOptions, modules: HandlerModules): ApiHandlers {
  const g = getGroupHandlers(opts, modules);
  return { ...g.node, ...g.blocks, ...g.headers, ...g.records, ...g.peers, ...g.mining, ...g.legacy };
}
