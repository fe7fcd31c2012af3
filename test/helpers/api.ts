import { EventEmitter } from "node:events";
import type { ApiBackend, BackendEvents } from "../../src/api/backend.ts";
import { ApiError } from "../../src/api/schemas.ts";
import type { Chain } from "../../src/chain/chain.ts";
import type { Mempool } from "../../src/mempool/index.ts";

/**
 * An API backend of a chain and a mempool only, as a node composes them without P2P or a miner: the
 * record routes work, the P2P routes answer 503 P2P_DISABLED. For the record API's tests and benchmark.
 */
export function recordsBackend(chain: Chain, mempool: Mempool): ApiBackend {
  const unavailable = (): never => {
    throw new ApiError(503, "P2P_DISABLED", "no P2P behind this backend");
  };
  const idle = { available: false, running: false, hashRate: 0, threads: 0, miner: "", blocksFound: 0 };
  return {
    chain,
    events: new EventEmitter<BackendEvents>(),
    records: { mempool, index: chain },
    peers: () => [],
    p2pInfo: unavailable,
    addPeer: async () => unavailable(),
    mining: () => idle,
    startMining: async () => unavailable(),
    stopMining: async () => unavailable(),
    sync: () => ({ syncing: false }),
  };
}
