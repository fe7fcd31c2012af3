export { MEMPOOL_ERROR_PENALTY, MempoolError, MempoolErrorCode, type MempoolErrorData } from "./errors.ts";
export {
  RecordEncoding,
  type RecordFromJsonResult,
  RecordJson,
  type RecordJsonView,
  recordFromJson,
  recordToJson,
} from "./json.ts";
export {
  DEFAULT_MEMPOOL_BYTES,
  DEFAULT_MEMPOOL_COUNT,
  DEFAULT_MEMPOOL_EXPIRY_MS,
  MAX_CONSECUTIVE_SKIPS,
  Mempool,
} from "./mempool.ts";
export {
  decodeMempoolFile,
  encodeMempoolFile,
  MAX_SHARE_KEY,
  MEMPOOL_FILE,
  MEMPOOL_FILE_VERSION,
  type MempoolFileResult,
  mempoolFile,
  readMempoolFile,
  type SavedRecord,
  writeFileAtomic,
} from "./persist.ts";
export type { ChainSwitch } from "./reorg.ts";
export { httpClient, REORG_SHARE, sourceShare } from "./shares.ts";
export { TEMPLATE_QUANTUM } from "./template.ts";
export type * from "./types.ts";
