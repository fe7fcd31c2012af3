import { isUtf8 } from "node:buffer";
import type { ChainReader } from "../chain/interfaces.ts";
import type { ChainEntry, ProcessResult, Reorg } from "../chain/types.ts";
import { fromHex, toHex } from "../consensus/bytes.ts";
import { bitsToTarget, blockWork, decodeBits } from "../consensus/compact.ts";
import { sha256d } from "../consensus/hash.ts";
import { hashToHex } from "../consensus/header.ts";
import type { NetworkParams } from "../consensus/params.ts";
import type { BlockRecord } from "../consensus/records.ts";
import type {
  BlockDetail,
  BlockSummary,
  RecordJson,
  RecordView,
  ReorgView,
  SubmitResult,
  TreeNode,
} from "./schemas.ts";

/** Pure conversions from chain objects to the API's JSON shapes. */

export function bitsHex(bits: number): string {
  return bits.toString(16).padStart(8, "0");
}

/**
 * Difficulty relative to the network's easiest target (the proof-of-work limit is difficulty 1), the
 * way Bitcoin relates every target to its own limit.
 */
export function difficulty(bits: number, params: NetworkParams): number {
  const target = decodeBits(bits).target;
  if (target === 0n) return 0;
  // Fixed point with 32 fractional bits keeps precision for both tiny and huge ratios.
  return Number((params.powLimit << 32n) / target) / 2 ** 32;
}

export function summary(e: ChainEntry, params: NetworkParams): BlockSummary {
  return {
    height: e.height,
    hash: e.hash,
    prev: hashToHex(e.header.prevHash),
    time: e.header.time,
    bits: bitsHex(e.header.bits),
    difficulty: difficulty(e.header.bits, params),
    miner: e.miner,
    recordCount: e.recordCount,
    size: e.size,
    sincePrev: e.parent ? e.header.time - e.parent.header.time : null,
  };
}

const utf8 = new TextEncoder();

/**
 * The bytes as text when they read as text: valid UTF-8 without control characters other than tab and
 * line breaks (those survive a JSON round trip and display sensibly). Byte-level checks only: the
 * controls are single bytes in UTF-8, and plain ASCII, the common case, needs no UTF-8 validation.
 */
export function printableText(bytes: Uint8Array): string | undefined {
  let ascii = true;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b >= 0x20 && b < 0x7f) continue;
    if (b === 0x09 || b === 0x0a || b === 0x0d) continue;
    if (b < 0x20 || b === 0x7f) return undefined;
    ascii = false;
  }
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (ascii) return buf.toString("latin1");
  return isUtf8(buf) ? buf.toString("utf8") : undefined;
}

function dataField(bytes: Uint8Array): { data: string; encoding: "utf8" | "hex" } {
  const text = printableText(bytes);
  return text === undefined ? { data: toHex(bytes), encoding: "hex" } : { data: text, encoding: "utf8" };
}

export function recordJson(rec: BlockRecord): RecordJson {
  switch (rec.type) {
    case "miner":
      return { type: "miner", height: rec.height, extraNonce: rec.extraNonce.toString(), miner: rec.miner };
    case "data":
      return { type: "data", ...dataField(rec.data) };
    case "signed":
      return {
        type: "signed",
        ...dataField(rec.data),
        publicKey: toHex(rec.publicKey),
        signature: toHex(rec.signature),
      };
  }
}

/** The inverse of recordJson. Throws DecodeError on bad hex. */
export function recordFromJson(r: RecordJson): BlockRecord {
  switch (r.type) {
    case "miner":
      return { type: "miner", height: r.height, extraNonce: BigInt(r.extraNonce), miner: r.miner };
    case "data":
      return { type: "data", data: r.encoding === "hex" ? fromHex(r.data) : utf8.encode(r.data) };
    case "signed":
      return {
        type: "signed",
        data: r.encoding === "hex" ? fromHex(r.data) : utf8.encode(r.data),
        publicKey: fromHex(r.publicKey),
        signature: fromHex(r.signature),
      };
  }
}

/** A record of a block page: its place, its bytes as stored and the record they decode to. */
export interface PagedRecord {
  index: number;
  bytes: Uint8Array;
  record: BlockRecord;
}

/**
 * Whether a signed record's signature verifies, as the chain found it, never recomputed on a read (a
 * block's 9,000 signatures took seconds a request): every signature of a valid block was checked when the
 * block joined the main chain; a block refused as BAD_SIGNATURE names its bad record. Otherwise the node
 * has not checked (a side block not yet connected, a block refused for another rule): undefined.
 */
function signatureVerdict(e: ChainEntry, index: number): boolean | undefined {
  if (e.status === "valid") return true;
  const bad = e.invalid;
  if (bad?.code === "BAD_SIGNATURE" && bad.index === index) return false;
  return undefined;
}

/** One page of a block's records as the view shows them, and the index the next page starts at. */
export interface RecordsPage {
  count: number;
  from: number;
  records: RecordView[];
  next: number | null;
}

/** A record of a block page as the view shows it: fields, id, size, the chain's signature verdict. */
export function recordView(e: ChainEntry, p: PagedRecord): RecordView {
  const verdict = p.record.type === "signed" ? signatureVerdict(e, p.index) : undefined;
  return {
    ...recordJson(p.record),
    index: p.index,
    id: hashToHex(sha256d(p.bytes)),
    size: p.bytes.length,
    ...(verdict === undefined ? {} : { signatureValid: verdict }),
  };
}

/** Children of `e` in the block tree, main-chain child first. */
export function children(chain: ChainReader, e: ChainEntry): ChainEntry[] {
  const out = chain.childrenOf(e);
  return out.sort((a, b) => Number(chain.isMain(b)) - Number(chain.isMain(a)) || a.seq - b.seq);
}

/** One block's view with one page of its records (block-pages.ts renders and caches the page). */
export function blockDetail(chain: ChainReader, e: ChainEntry, page: RecordsPage): BlockDetail {
  const params = chain.params;
  const main = chain.isMain(e);
  const target = bitsToTarget(e.header.bits) ?? 0n;
  const merkleRoot = hashToHex(e.header.merkleRoot);
  return {
    hash: e.hash,
    height: e.height,
    header: {
      version: e.header.version,
      prevHash: hashToHex(e.header.prevHash),
      merkleRoot,
      time: e.header.time,
      bits: bitsHex(e.header.bits),
      nonce: e.header.nonce,
    },
    target: target.toString(16).padStart(64, "0"),
    difficulty: difficulty(e.header.bits, params),
    work: blockWork(e.header.bits).toString(),
    chainWork: e.chainWork.toString(),
    size: e.size,
    miner: e.miner,
    branch: main ? "main" : "side",
    status: e.status,
    confirmations: main ? chain.height - e.height + 1 : 0,
    sincePrev: e.parent ? e.header.time - e.parent.header.time : null,
    merkleRoot,
    recordCount: page.count,
    recordsFrom: page.from,
    records: page.records,
    recordsNext: page.next,
    children: children(chain, e).map((c) => ({
      hash: c.hash,
      height: c.height,
      main: chain.isMain(c),
      status: c.status,
    })),
    ...(e.invalid ? { invalid: { ...e.invalid } } : {}),
  };
}

export function treeNode(chain: ChainReader, e: ChainEntry): TreeNode {
  return {
    hash: e.hash,
    parent: hashToHex(e.header.prevHash),
    height: e.height,
    miner: e.miner,
    main: chain.isMain(e),
    status: e.status,
    time: e.header.time,
  };
}

export function reorgView(r: Reorg): ReorgView {
  return {
    depth: r.depth,
    fork: { height: r.fork.height, hash: r.fork.hash },
    left: r.disconnected.map((e) => e.hash),
    joined: r.connected.map((e) => e.hash),
  };
}

export function submitResult(r: ProcessResult): SubmitResult {
  switch (r.status) {
    case "main":
      return {
        status: "main",
        hash: r.hash,
        height: r.height,
        ...(r.reorg ? { reorg: reorgView(r.reorg) } : {}),
      };
    case "side":
      return { status: "side", hash: r.hash, height: r.height };
    case "orphan":
      return { status: "orphan", hash: r.hash, missingParent: r.missingParent };
    case "duplicate":
      return { status: "duplicate", hash: r.hash };
  }
}
