import type { ApiBackend } from "../backend.ts";
import type { GroupHandlers } from "../handler.ts";
import { checkPeerAddress } from "../peer-address.ts";

/** The peers group: connected peers, dialling one, this node's own P2P identity. */

/** Handlers of the peers group's routes; an address is checked before the network sees it. */
export function getPeersApi(
  backend: Pick<ApiBackend, "peers" | "addPeer" | "p2pInfo">,
): GroupHandlers<"peers"> {
  return {
    getPeers: async () => ({ peers: backend.peers() }),
    addPeer: async ({ body }) => {
      checkPeerAddress(body.addr);
      await backend.addPeer(body.addr);
      return { ok: true as const };
    },
    getP2P: async () => backend.p2pInfo(),
  };
}
