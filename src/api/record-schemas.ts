import { z } from "zod";
import { decimal, hash } from "./schema-fields.ts";

/** The records routes' shapes (issue 9, docs/api.md "Records"); schemas.ts re-exports them. */

/** A record id: sha256d of the record's bytes, display order (bytes reversed), as block hashes are shown. */
export const RecordId = z
  .string()
  .regex(/^[0-9a-fA-F]{64}$/, "a 64-digit record id")
  .transform((s) => s.toLowerCase());

export const RecordStatus = z.enum(["pending", "confirmed"]);
export type RecordStatus = z.infer<typeof RecordStatus>;

/** What POST /api/records answers per record, in the order submitted. */
export const RecordAck = z.object({ id: hash, status: RecordStatus });
export type RecordAck = z.infer<typeof RecordAck>;

export const SubmitRecordsResult = z.union([RecordAck, z.array(RecordAck)]);

/**
 * A record as GET /api/records shows it: `encoding` is utf8 when the data is valid UTF-8, else base64
 * (src/mempool/json.ts `recordToJson`); miner records (record 0 of every block) show their fields.
 */
export const RecordBody = z.union([
  z.object({
    type: z.enum(["data", "signed"]),
    data: z.string(),
    encoding: z.enum(["utf8", "hex", "base64"]),
    publicKey: hash.optional(),
    signature: z
      .string()
      .regex(/^[0-9a-f]{128}$/)
      .optional(),
  }),
  z.object({
    type: z.literal("miner"),
    height: z.number().int(),
    extraNonce: decimal,
    miner: z.string(),
  }),
]);
export type RecordBody = z.infer<typeof RecordBody>;

export const RecordBlockRef = z.object({ hash, height: z.number().int(), time: z.number().int() });

/** An inclusion proof (src/consensus/proof.ts RecordProof; docs/consensus.md "Record inclusion proofs"). */
export const RecordProofView = z.object({
  /** The proof format (PROOF_VERSION); a verifier refuses formats it does not read. */
  version: z.literal(2),
  header: z.string().regex(/^[0-9a-f]{160}$/),
  index: z.number().int(),
  /** Records in the block: fixes the tree's depth and which nodes are duplicated. */
  count: z.number().int(),
  branch: z.array(hash),
  /** The block's miner record (hex) and its branch; absent for the miner record itself (index 0). */
  miner: z
    .object({
      record: z.string().regex(/^(?:[0-9a-f]{2})+$/),
      branch: z.array(hash),
    })
    .optional(),
});

export const RecordDetail = z.object({
  id: hash,
  status: RecordStatus,
  record: RecordBody,
  /** Confirmed records: the main-chain block that carries it. */
  block: RecordBlockRef.optional(),
  /** Position of the record in its block (0 is the miner record). */
  index: z.number().int().optional(),
  /** Main-chain blocks from its block to the tip inclusive. */
  confirmations: z.number().int().optional(),
  proof: RecordProofView.optional(),
});
export type RecordDetail = z.infer<typeof RecordDetail>;

export const AuthorRecord = z.object({
  id: hash,
  record: RecordBody,
  block: RecordBlockRef,
  index: z.number().int(),
  confirmations: z.number().int(),
});

export const AuthorRecords = z.object({
  records: z.array(AuthorRecord),
  /** Pass as `before` for the next (older) page; null on the last page. */
  next: z
    .string()
    .regex(/^\d+:\d+$/)
    .nullable(),
});
export type AuthorRecords = z.infer<typeof AuthorRecords>;

export const MempoolView = z.object({
  count: z.number().int(),
  bytes: z.number().int(),
  /** Age of the record waiting longest, ms; 0 when empty. */
  oldestAgeMs: z.number(),
  maxCount: z.number().int(),
  maxBytes: z.number().int(),
  /** A page of pending ids in arrival order (the order blocks take them in). */
  ids: z.array(hash),
  /** Pass as `after` for the next page; null on the last page. */
  next: hash.nullable(),
});
export type MempoolView = z.infer<typeof MempoolView>;
