import { z } from "zod";
import { dataIn, dataMessage, decimal, hash, hexOf, U32, u32Field, u64Decimal } from "./schema-fields.ts";

/**
 * The JSON shapes of the HTTP API, as zod schemas. The server's handlers are typed against them and the
 * client parses every response with them, so a change here that one side misses fails to compile or
 * fails loudly at the first request. Big integers (work) travel as decimal strings.
 */

export * from "./record-schemas.ts";

/** `{ error: { code, message } }`: the one error body every route and failure returns. */
export const ErrorBody = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    /** Per-code details (a BlockError's data, the hash it concerns, validation issues). */
    details: z.record(z.string(), z.unknown()).optional(),
  }),
});
export type ErrorBody = z.infer<typeof ErrorBody>;

/**
 * The error an `ErrorBody` stands for: the HTTP status and the body's code, message and details. The server
 * throws it (src/api/errors.ts turns it into the body); the clients rebuild it from the body they receive
 * (src/api/client.ts, the explorer), where status 0 and code UNREACHABLE mean the node did not answer.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export const MiningView = z.object({
  /** Whether this node has a miner at all. */
  available: z.boolean(),
  running: z.boolean(),
  /** Hashes per second over the last few seconds (0 when idle). */
  hashRate: z.number(),
  threads: z.number().int(),
  /** Name written into the miner record of blocks this node mines. */
  miner: z.string(),
  /** Blocks this miner found since the node started (main or not). */
  blocksFound: z.number().int(),
});
export type MiningView = z.infer<typeof MiningView>;

export const SyncView = z.object({
  syncing: z.boolean(),
  peer: z.string().optional(),
  height: z.number().int().optional(),
  target: z.number().int().optional(),
  blocksPerSec: z.number().optional(),
});
export type SyncView = z.infer<typeof SyncView>;

export const Status = z.object({
  network: z.string(),
  genesis: hash,
  tip: z.object({ height: z.number().int(), hash, time: z.number().int() }),
  /** Cumulative work of the main chain. */
  totalWork: decimal,
  /** Bits the next block must carry, and that target's difficulty (1 = the network's easiest target). */
  bits: z.string(),
  difficulty: z.number(),
  peers: z.number().int(),
  mining: MiningView,
  orphans: z.number().int(),
  syncing: z.boolean(),
  sync: SyncView,
  uptime: z.number(),
  version: z.string(),
});
export type Status = z.infer<typeof Status>;

export const BlockSummary = z.object({
  height: z.number().int(),
  hash,
  prev: hash,
  time: z.number().int(),
  bits: z.string(),
  difficulty: z.number(),
  miner: z.string(),
  recordCount: z.number().int(),
  size: z.number().int(),
  /** Seconds since the parent's timestamp (null for genesis). Can be negative: times only need to beat the median. */
  sincePrev: z.number().int().nullable(),
});
export type BlockSummary = z.infer<typeof BlockSummary>;

export const BlockPage = z.object({
  blocks: z.array(BlockSummary),
  /** Pass as `before` for the next (older) page; null on the last page. */
  next: z.number().int().nullable(),
  tipHeight: z.number().int(),
});
export type BlockPage = z.infer<typeof BlockPage>;

/**
 * One record, losslessly: `data` is UTF-8 text when `encoding` is "utf8" (the bytes were printable text)
 * and hex otherwise. The same shape is accepted back by POST /mined.
 */
export const RecordJson = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("miner"),
    height: z.number().int().min(0).max(U32),
    /** 64-bit, as a decimal string. */
    extraNonce: u64Decimal,
    miner: z.string(),
  }),
  z
    .object({
      type: z.literal("data"),
      data: z.string(),
      encoding: z.enum(["utf8", "hex"]),
    })
    .refine(dataIn, dataMessage),
  z
    .object({
      type: z.literal("signed"),
      data: z.string(),
      encoding: z.enum(["utf8", "hex"]),
      /** ed25519: 32-byte key, 64-byte signature. */
      publicKey: hexOf(64),
      signature: hexOf(128),
    })
    .refine(dataIn, dataMessage),
]);
export type RecordJson = z.infer<typeof RecordJson>;

export const RecordView = z.intersection(
  RecordJson,
  z.object({
    index: z.number().int(),
    /** Record id (double SHA-256 of its bytes), display order. */
    id: hash,
    /** Serialized size in bytes. */
    size: z.number().int(),
    /**
     * For signed records, the chain's verdict (never recomputed on a read): true in a valid block, false
     * for the record a BAD_SIGNATURE refusal names; absent when the node has not checked it.
     */
    signatureValid: z.boolean().optional(),
  }),
);
export type RecordView = z.infer<typeof RecordView>;

export const ChildRef = z.object({ hash, height: z.number().int(), main: z.boolean(), status: z.string() });

export const BlockDetail = z.object({
  hash,
  height: z.number().int(),
  header: z.object({
    version: z.number().int(),
    prevHash: hash,
    merkleRoot: hash,
    time: z.number().int(),
    bits: z.string(),
    nonce: z.number().int(),
  }),
  /** Target the bits encode, 64 hex digits. */
  target: z.string(),
  difficulty: z.number(),
  work: decimal,
  chainWork: decimal,
  size: z.number().int(),
  miner: z.string(),
  /** "main" when on the main chain, "side" otherwise. */
  branch: z.enum(["main", "side"]),
  /** Validation state: accepted, valid, invalid, invalid-child. */
  status: z.string(),
  /** Main-chain blocks from this one to the tip inclusive; 0 for side blocks. */
  confirmations: z.number().int(),
  sincePrev: z.number().int().nullable(),
  merkleRoot: hash,
  /** Records in the block; `records` is one page of them (query `from`, `limit`). */
  recordCount: z.number().int(),
  /** Index of the page's first record. */
  recordsFrom: z.number().int(),
  records: z.array(RecordView),
  /** Pass as `from` for the next page of records; null on the last page. */
  recordsNext: z.number().int().nullable(),
  children: z.array(ChildRef),
  invalid: z.record(z.string(), z.unknown()).optional(),
});
export type BlockDetail = z.infer<typeof BlockDetail>;

export const ReorgView = z.object({
  depth: z.number().int(),
  fork: z.object({ height: z.number().int(), hash }),
  /** Hashes that left the main chain, oldest first. */
  left: z.array(hash),
  /** Hashes that joined it, oldest first. */
  joined: z.array(hash),
});
export type ReorgView = z.infer<typeof ReorgView>;

export const SubmitResult = z.object({
  status: z.enum(["main", "side", "orphan", "duplicate"]),
  hash,
  height: z.number().int().optional(),
  missingParent: hash.optional(),
  reorg: ReorgView.optional(),
});
export type SubmitResult = z.infer<typeof SubmitResult>;

/** POST /api/blocks with a JSON body: the serialized block in hex. */
export const SubmitHexBody = z.object({ hex: z.string().min(1) });

export const TreeNode = z.object({
  hash,
  parent: hash,
  height: z.number().int(),
  miner: z.string(),
  main: z.boolean(),
  status: z.string(),
  time: z.number().int(),
});
export type TreeNode = z.infer<typeof TreeNode>;

export const Tree = z.object({
  tip: hash,
  tipHeight: z.number().int(),
  /** Lowest height included. */
  from: z.number().int(),
  nodes: z.array(TreeNode),
});
export type Tree = z.infer<typeof Tree>;

export const PeerView = z.object({
  id: z.string(),
  addrs: z.array(z.string()),
  /** Extra facts the network layer reports (direction, height, score...). */
  info: z.record(z.string(), z.unknown()).optional(),
});
export type PeerView = z.infer<typeof PeerView>;

export const Peers = z.object({ peers: z.array(PeerView) });

export const P2PInfo = z.object({ peerId: z.string(), multiaddrs: z.array(z.string()) });
export type P2PInfo = z.infer<typeof P2PInfo>;

export const AddPeerBody = z.object({
  /** A multiaddr (/ip4/…/tcp/…/p2p/…) or another node's HTTP URL (http://host:port). */
  addr: z.string().min(1).max(1000),
});

export const Ok = z.object({ ok: z.literal(true) });

/** GET /api/health: the process answers. */
export const Health = z.object({ status: z.literal("ok"), uptime: z.number() });

/** What GET /api/ready checks; each true when that part is ready. */
export const ReadyChecks = z.object({
  /** The store is open (false while the node stops). */
  store: z.boolean(),
  /** P2P is up, or not configured. */
  p2p: z.boolean(),
  /** Not syncing from a peer. */
  synced: z.boolean(),
  /** At least one peer, when peers were configured. */
  peers: z.boolean(),
});
export type ReadyChecks = z.infer<typeof ReadyChecks>;

/** GET /api/ready when ready (otherwise 503 NOT_READY with the same checks in `details`). */
export const Ready = z.object({ ready: z.literal(true), checks: ReadyChecks });

export const MiningResult = z.object({ mining: MiningView });

/**
 * A block in the original JackBlockChain's /blockchain.json shape: its six fields as strings, as its
 * Block.to_dict wrote them, then jbc's own fields (snake_case like the original's) and the records.
 */
export const LegacyBlock = z.object({
  /** The height (u32), as the original's string or a number. */
  index: u32Field,
  timestamp: u32Field,
  data: z.string(),
  /** The parent's hash; empty for genesis. */
  prev_hash: z.union([z.literal(""), hexOf(64)]),
  hash: hexOf(64).optional(),
  nonce: u32Field,
  /** The header's version, a u32 on the wire: -1 is refused, not stored as ffffffff. */
  version: z.number().int().min(0).max(U32).optional(),
  bits: z
    .string()
    .regex(/^(?:0x)?[0-9a-fA-F]{1,8}$/, "up to 8 hex digits")
    .optional(),
  merkle_root: hexOf(64).optional(),
  miner: z.string().optional(),
  records: z.array(RecordJson).min(1).max(100_000),
});
export type LegacyBlock = z.infer<typeof LegacyBlock>;

export const MinedResult = z.object({
  confirmed: z.boolean(),
  status: SubmitResult.shape.status,
  hash,
});
