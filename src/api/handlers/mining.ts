import type { ApiBackend } from "../backend.ts";
import type { GroupHandlers } from "../handler.ts";

/** The mining group: start and stop the node's miner (its statistics are in /api/status and the events). */

/** Handlers of the mining group's routes. */
export function getMiningApi(
  backend: Pick<ApiBackend, "startMining" | "stopMining">,
): GroupHandlers<"mining"> {
  return {
    startMining: async () => ({ mining: await backend.startMining() }),
    stopMining: async () => ({ mining: await backend.stopMining() }),
  };
}
