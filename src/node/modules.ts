import type { NodeModules } from "./services.ts";

/**
 * The real P2P network and miner, adapted to the node's service shapes. Until src/net and src/mining
 * export them, a node runs without networking and without a miner (their API routes answer 503).
 */
export function defaultModules(): NodeModules {
  return {};
}
