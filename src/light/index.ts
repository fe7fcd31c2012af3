/**
 * The light client library (docs/light.md): headers from one or more sources checked with consensus's
 * rules, a header tree with fork choice by work, self-contained proof files and the client's state as
 * JSON. Browser-safe: plain typed arrays and @noble (through src/consensus) only, no `node:` module, no
 * Buffer; exported from the package root for the explorer and other users.
 */
export { LightClient } from "./client.ts";
export {
  COMPACT_HEADER_SIZE,
  CompactChainError,
  decodeCompactChain,
  encodeCompactChain,
  fromBase64,
  splitHeaders,
  toBase64,
} from "./codec.ts";
export {
  buildProofFile,
  CONTEXT_HEADERS,
  MAX_FILE_HEADERS,
  PROOF_FILE_FORMAT,
  PROOF_FILE_VERSION,
  type ProofFile,
  type ProofFileErrorCode,
  type ProofFileResult,
  type ReadProofFile,
  readProofFile,
  verifyProofFile,
} from "./proof-file.ts";
export {
  checkSegment,
  type Placement,
  placeSegment,
  type SegmentErrorCode,
  type SegmentResult,
  segmentWorkFrom,
} from "./segment.ts";
export {
  type HeaderSource,
  HeaderSourceError,
  HttpHeaderSource,
  MAX_HEADERS_PER_REQUEST,
  type SourceTip,
} from "./source.ts";
export {
  LIGHT_STATE_FORMAT,
  LIGHT_STATE_VERSION,
  LightStateError,
  type LightStateJson,
  loadLightState,
  saveLightState,
} from "./state.ts";
export {
  type Divergence,
  fetchSegment,
  reorgSince,
  type SyncOptions,
  type SyncReport,
  syncSource,
} from "./sync.ts";
export { pruneSlack } from "./tree.ts";
export {
  type AddResult,
  type Checkpoint,
  DEFAULT_CHECKPOINT_EVERY,
  DEFAULT_MAX_CHECKPOINTS,
  DEFAULT_TRUST_DEPTH,
  DEFAULT_WINDOW,
  type HeaderNode,
  type LightBase,
  LightClientError,
  type LightClientOptions,
  type LightFault,
  LightFaultCode,
  type LightReorg,
  type Location,
  type SourceClaim,
  type SourceVerdict,
  type TrustStatus,
} from "./types.ts";
export { verifyWitnessed, type WitnessedResult } from "./witnessed.ts";
