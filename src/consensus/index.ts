export {
  type Block,
  type BlockPrefix,
  blockMerkle,
  decodeBlock,
  encodeBlock,
  MAX_BLOCK_RECORDS,
  MAX_BLOCK_SIZE,
  readBlockPrefix,
  recordIds,
} from "./block.ts";
export { bytesEqual, DecodeError, fromHex, toHex } from "./bytes.ts";
export {
  CheckpointError,
  checkpointOrigin,
  checkQuorum,
  formatCheckpoint,
  parseCheckpoint,
  parseWitnesses,
  type WitnessCheckpoint,
} from "./checkpoint.ts";
export { bitsToTarget, blockWork, decodeBits, targetToBits, targetWork } from "./compact.ts";
export { type AsertAnchor, anchorFromBlockOne, asertBits, asertTarget, requiredBits } from "./difficulty.ts";
export { BLOCK_ERROR_PENALTY, BlockError, BlockErrorCode, type BlockErrorData } from "./errors.ts";
export { checkCheckpoint, checkGenesis, claimsGenesis, lastCheckpoint } from "./genesis.ts";
export { type Sha256, sha256, sha256d, useSha256 } from "./hash.ts";
export {
  type BlockHeader,
  decodeHeader,
  encodeHeader,
  HEADER_SIZE,
  hashToBigInt,
  hashToHex,
  headerHash,
  headerHashBytes,
  hexToHash,
} from "./header.ts";
export { computeMerkleRoot, merkleRoot } from "./merkle.ts";
export {
  defineNetwork,
  devnet,
  getNetwork,
  type NetworkName,
  type NetworkParams,
  networks,
  regtest,
} from "./params.ts";
export {
  assembleRecordProof,
  buildRecordProof,
  foldBranch,
  MAX_BRANCH_LENGTH,
  merkleBranch,
  merkleLevels,
  PROOF_VERSION,
  type RecordProof,
  RecordProofErrorCode,
  type RecordProofResult,
  verifyRecordProof,
} from "./proof.ts";
export {
  type BlockRecord,
  type DataRecord,
  decodeRecord,
  type Ed25519Verify,
  ed25519Verify,
  encodeRecord,
  FORBIDDEN_RECORD_SIZE,
  MAX_MINER_NAME_BYTES,
  MAX_RECORD_SIZE,
  type MinerRecord,
  minerNameProblem,
  recordId,
  type SignedRecord,
  signRecord,
  useEd25519Verify,
  verifyRecordSignature,
} from "./records.ts";
export { type BlockTemplateInput, buildBlock } from "./template.ts";
export { MEDIAN_TIME_SPAN, medianTimePast } from "./time.ts";
export {
  type BlockContext,
  type BlockFacts,
  type ConfirmedIn,
  checkBlockContext,
  checkBlockRecords,
  checkBlockSanity,
  checkHeaderContext,
  checkHeaderTime,
  checkHeaderWork,
  checkRecordsUnique,
} from "./validate.ts";
