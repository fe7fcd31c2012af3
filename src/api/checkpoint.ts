import { z } from "zod";

/**
 * The shape of GET /api/checkpoint (docs/api.md): the latest checkpoint this node holds with every
 * signature it collected, the final one (cosigned by the configured witnesses' quorum), and the reports
 * (equivocations with both notes, refused forks). The notes are C2SP signed notes (src/consensus/note.ts);
 * with `Accept: text/plain` the route answers the latest note itself. Schemas only: the route table, and so
 * the explorer, imports this file.
 */

const Hash = z.string().regex(/^[0-9a-f]{64}$/);

export const CheckpointView = z.object({
  /** The checkpoints' origin line: jbc/<network>/<genesis16>. */
  origin: z.string(),
  /** Depth below the tip of the block each node signs. */
  depth: z.number().int(),
  /** Witnesses whose signatures make a checkpoint final (0: no witnesses configured). */
  quorum: z.number().int(),
  /** This node's signer name and verifier key (the line for a team's witnesses file). */
  self: z.object({ name: z.string(), vkey: z.string() }),
  /** The configured witnesses' verifier keys. */
  witnesses: z.array(z.string()),
  latest: z
    .object({
      height: z.number().int(),
      hash: Hash,
      chainWork: z.string(),
      note: z.string(),
      /** Every signer of the note; `witness`: one of the configured witnesses. */
      signers: z.array(z.object({ name: z.string(), witness: z.boolean() })),
    })
    .nullable(),
  final: z
    .object({ height: z.number().int(), hash: Hash, note: z.string(), cosigners: z.array(z.string()) })
    .nullable(),
  equivocations: z.array(
    z.object({
      at: z.string(),
      height: z.number().int(),
      witness: z.string(),
      held: z.object({ hash: Hash, note: z.string() }),
      conflicting: z.object({ hash: Hash, note: z.string() }),
    }),
  ),
  refusedForks: z.array(z.object({ at: z.string(), hash: Hash, finalHeight: z.number().int() })),
  /** Since the node started: checkpoints signed, cosignatures received and refused, reports, finals. */
  counts: z.object({
    signed: z.number().int(),
    received: z.number().int(),
    forged: z.number().int(),
    equivocations: z.number().int(),
    refusedForks: z.number().int(),
    finalized: z.number().int(),
  }),
});
export type CheckpointView = z.infer<typeof CheckpointView>;
