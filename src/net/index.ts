/**
 * The peer-to-peer layer. The polyfill import must stay first: libp2p needs Promise.withResolvers,
 * which Node 20 lacks.
 */
import "./polyfill.ts";

export { IdentityError, loadOrCreatePeerKey } from "./identity.ts";
export { P2PNetwork } from "./network.ts";
export {
  DEFAULT_LIMITS,
  type NetworkEvents,
  type NetworkLimits,
  type NetworkModules,
  type NetworkOptions,
  type PeerInfo,
  type SyncDone,
  type SyncProgress,
} from "./options.ts";
export { type BanStore, PROTOCOL_PENALTY, type ProtocolOffence } from "./peers/scores.ts";
export {
  formatNetworkKey,
  NetworkKey,
  NetworkKeyError,
  networkKeyFingerprint,
  parseNetworkKey,
  parsePeerIds,
  readNetworkKeyFile,
  readPeerIdsFile,
  writeNewNetworkKeyFile,
} from "./private.ts";
export {
  BLOCKS_PROTOCOL,
  blocksTopic,
  MAX_BLOCKS_PER_RESPONSE,
  MAX_LOCATOR_HASHES,
  MAX_RESPONSE_BYTES,
  recordsTopic,
  STATUS_PROTOCOL,
} from "./protocols.ts";
export { HEADERS_PROTOCOL, HEADERS_SKIP_PROTOCOL } from "./reqresp/headers.ts";
export {
  fetchP2PInfo,
  type P2PInfo,
  P2PInfoSchema,
  PeerAddressError,
  resolvePeerAddress,
} from "./resolve.ts";
