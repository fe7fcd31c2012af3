/**
 * Self-contained proof files (docs/light.md, "Proof files"): a record, its position proof (format 2,
 * src/consensus/proof.ts) and the headers from a little below its block up to the tip when the file was
 * made, so that a verifier with no node says how much work sits on the record, and one with a light
 * client's state or a few nodes says whether that work is the network's best chain.
 *
 *   { "format": "jbc-proof-file", "version": 1, "network": "devnet", "genesis": "<hash>",
 *     "id": "<record id>", "record": { <the record as JSON> }, "proof": { <format 2> },
 *     "headers": { "from": 98989, "count": 1012, "chain": "<base64 compact chain>",
 *                  "blockOne": "<160 hex: block 1's header>" },
 *     "made": { "at": "<ISO time>", "by": "<node URL>", "tip": { "height", "hash", "chainWork" } },
 *     "checkpoint": "<optional: the node's cosigned checkpoint, a C2SP signed note (witnessed.ts)>" }
 *
 * `chain` starts `CONTEXT_HEADERS` below the record's block (or at genesis), so the block's own bits and
 * time are checked too; `blockOne` (absent when `from` is 0 or 1) anchors ASERT. The record stays in its
 * JSON form, as the API serves it: the caller turns it into bytes (the CLI with src/mempool/json.ts).
 */

import { DecodeError, fromHex, toHex } from "../consensus/bytes.ts";
import { blockWork } from "../consensus/compact.ts";
import type { NetworkParams } from "../consensus/params.ts";
import {
  type RecordProof,
  type RecordProofErrorCode,
  type RecordProofResult,
  verifyRecordProof,
} from "../consensus/proof.ts";
import type { LightClient } from "./client.ts";
import { CompactChainError, decodeCompactChain, encodeCompactChain, fromBase64, toBase64 } from "./codec.ts";
import { checkSegment, type SegmentErrorCode, segmentWorkFrom } from "./segment.ts";

export const PROOF_FILE_FORMAT = "jbc-proof-file";
/** The proof-file version this code writes and reads. */
export const PROOF_FILE_VERSION = 1;
/** Headers a file carries below the record's block: the median-time rule of the block needs 11. */
export const CONTEXT_HEADERS = 11;
/** Most headers a proof file may carry (about 5 MB of base64): a bound for whoever reads one. */
export const MAX_FILE_HEADERS = 100_000;

export interface ProofFile {
  format: typeof PROOF_FILE_FORMAT;
  version: typeof PROOF_FILE_VERSION;
  /** Network name and genesis hash: a file is for one network. */
  network: string;
  genesis: string;
  /** The record's id (display order), for people; the verifier recomputes it. */
  id: string;
  /** The record as JSON (the API's shape). */
  record: unknown;
  /** The position proof, format 2. */
  proof: RecordProof;
  headers: {
    /** Height of the chain's first header. */
    from: number;
    /** Headers in `chain`. */
    count: number;
    /** Base64 of the compact chain (src/light/codec.ts). */
    chain: string;
    /** Hex of block 1's header, ASERT's anchor; absent when `from` is 0 or 1. */
    blockOne?: string;
  };
  /** When, from which node, and the tip the node reported: for people, not checked. */
  made?: { at: string; by?: string; tip?: { height: number; hash: string; chainWork: string } };
  /**
   * Optional (issue 19): the cosigned checkpoint the node held, a C2SP signed note; checked only against a
   * team's witnesses (witnessed.ts `verifyWitnessed`). Files without it, and readers that ignore it, are
   * unchanged: the version stays 1.
   */
  checkpoint?: string;
}

/**
 * A proof file from its parts: `headers` are consecutive 80-byte headers, the first at height `from`.
 * Throws RangeError when they do not follow each other (such a file would never verify).
 */
export function buildProofFile(p: {
  params: NetworkParams;
  id: string;
  record: unknown;
  proof: RecordProof;
  from: number;
  headers: readonly Uint8Array[];
  blockOne?: Uint8Array | undefined;
  made?: ProofFile["made"];
  checkpoint?: string | undefined;
}): ProofFile {
  if (p.headers.length > MAX_FILE_HEADERS)
    throw new RangeError(`at most ${MAX_FILE_HEADERS} headers in a proof file`);
  const file: ProofFile = {
    format: PROOF_FILE_FORMAT,
    version: PROOF_FILE_VERSION,
    network: p.params.name,
    genesis: p.params.genesisHash,
    id: p.id,
    record: p.record,
    proof: p.proof,
    headers: { from: p.from, count: p.headers.length, chain: toBase64(encodeCompactChain(p.headers)) },
  };
  if (p.from >= 2 && p.blockOne) file.headers.blockOne = toHex(p.blockOne);
  if (p.made) file.made = p.made;
  if (p.checkpoint !== undefined) file.checkpoint = p.checkpoint;
  return file;
}

/** What a file holds, before anything is verified. */
export type ReadProofFile =
  | { kind: "file"; file: ProofFile }
  /** The shape before proof files: `{ record, proof }`, as `GET /api/records/:id` answers. No headers. */
  | { kind: "bare"; record: unknown; proof: RecordProof }
  | { kind: "unsupported"; reason: string }
  | { kind: "malformed"; reason: string };

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Sorts a parsed JSON value into a proof file, an older bare proof, or why it is neither. */
export function readProofFile(value: unknown): ReadProofFile {
  if (!isObject(value)) return { kind: "malformed", reason: "not a JSON object" };
  if (value["format"] === undefined) {
    if (!isObject(value["proof"]) || value["record"] === undefined)
      return { kind: "malformed", reason: "neither a proof file nor { record, proof }" };
    return { kind: "bare", record: value["record"], proof: value["proof"] as unknown as RecordProof };
  }
  if (value["format"] !== PROOF_FILE_FORMAT)
    return {
      kind: "malformed",
      reason: `format ${JSON.stringify(value["format"])} is not ${PROOF_FILE_FORMAT}`,
    };
  if (value["version"] !== PROOF_FILE_VERSION)
    return {
      kind: "unsupported",
      reason: `proof file version ${JSON.stringify(value["version"])}: this jbc reads version ${PROOF_FILE_VERSION} (a newer jbc wrote it: upgrade jbc)`,
    };
  const h = value["headers"];
  if (
    typeof value["network"] !== "string" ||
    typeof value["genesis"] !== "string" ||
    typeof value["id"] !== "string" ||
    value["record"] === undefined ||
    !isObject(value["proof"]) ||
    !isObject(h) ||
    !Number.isSafeInteger(h["from"]) ||
    (h["from"] as number) < 0 ||
    !Number.isSafeInteger(h["count"]) ||
    (h["count"] as number) < 1 ||
    (h["count"] as number) > MAX_FILE_HEADERS ||
    typeof h["chain"] !== "string" ||
    (h["blockOne"] !== undefined && typeof h["blockOne"] !== "string") ||
    (value["checkpoint"] !== undefined && typeof value["checkpoint"] !== "string")
  )
    return { kind: "malformed", reason: "fields missing or of the wrong type (see docs/light.md)" };
  return { kind: "file", file: value as unknown as ProofFile };
}

export type ProofFileErrorCode = RecordProofErrorCode | SegmentErrorCode | "WRONG_NETWORK" | "NOT_IN_HEADERS";

export type ProofFileResult =
  | {
      valid: true;
      /** What the position proof says (record id, block hash, height, time, bits). */
      proof: Extract<RecordProofResult, { valid: true }>;
      /** The file's headers, checked: a client holding just them. */
      segment: LightClient;
      /** The file's headers, whole (80 bytes each), from `from`. */
      from: number;
      headers: Uint8Array[];
      /** Headers from the record's block to the file's last, both included. */
      confirmations: number;
      /** Work of those headers (hashes). */
      workOnTop: bigint;
      /** Hashes a second the block's difficulty implies (work per block over the target spacing). */
      hashRate: number;
      /** `workOnTop` in hours of that hash rate. */
      hours: number;
      tip: { height: number; hash: string; time: number };
    }
  | { valid: false; code: ProofFileErrorCode; reason: string };

/**
 * Verifies a proof file offline against the record's bytes; never throws. In order: the file is for
 * `params`' network; the position proof (verifyRecordProof, at this network's proof-of-work limit); the
 * headers link and pass the light client's checks from their first one (`checkSegment`, ASERT anchored at
 * the file's block 1); the proof's block is among them at its height. Then how much work is on it.
 */
export function verifyProofFile(
  params: NetworkParams,
  file: ProofFile,
  recordBytes: Uint8Array,
  opts: { now?: () => number } = {},
): ProofFileResult {
  if (file.genesis !== params.genesisHash || file.network !== params.name)
    return {
      valid: false,
      code: "WRONG_NETWORK",
      reason: `a proof for ${file.network} (genesis ${file.genesis.slice(0, 16)}…), checked as ${params.name}: pass --network ${file.network}`,
    };
  const proof = verifyRecordProof(file.proof, recordBytes, { powLimit: params.powLimit });
  if (!proof.valid) return proof;
  let headers: Uint8Array[];
  let blockOne: Uint8Array | undefined;
  try {
    headers = decodeCompactChain(fromBase64(file.headers.chain));
    if (file.headers.blockOne !== undefined) blockOne = fromHex(file.headers.blockOne);
  } catch (err) {
    if (err instanceof CompactChainError)
      return {
        valid: false,
        code: err.code,
        reason:
          err.code === "BAD_LINK"
            ? `the headers do not link: the one at height ${file.headers.from + err.index} does not follow the one below it`
            : `headers: ${err.message}`,
      };
    const why = err instanceof DecodeError ? err.message : String(err);
    return { valid: false, code: "MALFORMED", reason: `headers: ${why}` };
  }
  if (headers.length !== file.headers.count)
    return {
      valid: false,
      code: "MALFORMED",
      reason: `headers.count says ${file.headers.count}, the chain holds ${headers.length}`,
    };
  const from = file.headers.from;
  const seg = checkSegment(params, { from, headers, blockOne }, { source: "the proof file", ...opts });
  if (!seg.ok) return { valid: false, code: seg.code, reason: `the file's headers: ${seg.reason}` };
  const block = seg.client.mainAt(proof.height);
  if (block?.hash !== proof.blockHash)
    return {
      valid: false,
      code: "NOT_IN_HEADERS",
      reason: `the file's headers (heights ${from} to ${from + headers.length - 1}) do not hold block ${proof.blockHash} at height ${proof.height}`,
    };
  const workOnTop = segmentWorkFrom(seg.client, proof.height);
  const hashRate = Number(blockWork(block.bits)) / params.targetSpacing;
  const tip = seg.tip;
  return {
    valid: true,
    proof,
    segment: seg.client,
    from,
    headers,
    confirmations: tip.height - proof.height + 1,
    workOnTop,
    hashRate,
    hours: Number(workOnTop) / hashRate / 3600,
    tip: { height: tip.height, hash: tip.hash, time: tip.time },
  };
}
