/**
 * The store's metadata record ('V', docs/storage.md "V: metadata") and what open does with it: write it
 * into a new database, migrate an older schema of this network step by step (migrate/index.ts), and refuse
 * a database that is not a jbc store of this network at this schema version.
 */
import { StoreError } from "../chain/store.ts";
import { Reader, Writer } from "../consensus/bytes.ts";
import { hashToHex } from "../consensus/header.ts";
import type { NetworkParams } from "../consensus/params.ts";
import type { Bytes } from "./db.ts";
import { META_KEY } from "./layout.ts";
import { MIGRATIONS } from "./migrate/index.ts";
import type { Migration, MigrationContext } from "./migrate/step.ts";

/** The schema version this jbc reads and writes: version 1, plus one for each migration step. */
export const SCHEMA_VERSION = 1 + MIGRATIONS.length;

/** The 'V' record: schema version, network id, genesis hash (internal order). */
export interface StoreMeta {
  version: number;
  networkId: number;
  genesis: Bytes;
}

/** Serializes the 'V' record: version u32, network id u32, genesis hash (40 bytes). */
export function encodeMeta(meta: StoreMeta): Bytes {
  return new Writer(40).u32(meta.version).u32(meta.networkId).bytes(meta.genesis).finish();
}

/** Parses a 'V' record; StoreError NOT_JBC (naming `path`) when it is not 40 bytes. */
export function decodeMeta(bytes: Bytes, path: string): StoreMeta {
  if (bytes.length !== 40) throw new StoreError("NOT_JBC", "unrecognised metadata record", path);
  const r = new Reader(bytes);
  return { version: r.u32(), networkId: r.u32(), genesis: r.bytes(32) };
}

/**
 * Makes the open database a jbc store of `params`' network at SCHEMA_VERSION, or throws StoreError: a new
 * (keyless) database gets its 'V' record; an older store of this network is migrated (`upgrade`); NOT_JBC
 * for keys without 'V', a malformed 'V' or another schema version (a store of another network is not
 * migrated, so an old one is refused by version); WRONG_NETWORK for another network's store.
 */
export async function checkSchema(ctx: MigrationContext, params: NetworkParams): Promise<void> {
  const raw = await ctx.read(ctx.db.get(META_KEY));
  const genesis = Buffer.from(params.genesisHash, "hex").reverse();
  if (raw === undefined) {
    // A fresh database holds no keys at all; any key without meta means it is not ours.
    const any = await ctx.read(ctx.db.keys({ limit: 1 }).all());
    if (any.length > 0) throw new StoreError("NOT_JBC", "LevelDB database without jbc metadata", ctx.path);
    await ctx.db.put(META_KEY, encodeMeta({ version: SCHEMA_VERSION, networkId: params.networkId, genesis }));
    return;
  }
  const meta = decodeMeta(raw, ctx.path);
  const ours = meta.networkId === params.networkId && Buffer.compare(meta.genesis, genesis) === 0;
  const version = ours ? await upgrade(ctx, raw, meta.version) : meta.version;
  if (version !== SCHEMA_VERSION) {
    throw new StoreError(
      "NOT_JBC",
      `database schema version ${version}, this jbc reads ${SCHEMA_VERSION}`,
      ctx.path,
    );
  }
  if (!ours) {
    throw new StoreError(
      "WRONG_NETWORK",
      `database belongs to another network (id 0x${meta.networkId.toString(16)}, genesis ${hashToHex(meta.genesis)}), not ${params.name}`,
      ctx.path,
    );
  }
}

/**
 * Runs every step of `steps` from `version` on, in order, and rewrites the version in 'V' (the record
 * `meta`, otherwise unchanged) after each one, so a kill or a refusal leaves the version of the last step
 * that completed. Returns the version reached; one that no step starts from (0, or newer than the table)
 * is returned unchanged.
 */
export async function upgrade(
  ctx: MigrationContext,
  meta: Bytes,
  version: number,
  steps: readonly Migration[] = MIGRATIONS,
): Promise<number> {
  let reached = version;
  for (const step of steps) {
    if (step.from !== reached) continue;
    await step.run(ctx);
    reached = step.from + 1;
    const next = new Uint8Array(meta); // a copy: the value LevelDB gave may be a view into a shared buffer
    new DataView(next.buffer, next.byteOffset).setUint32(0, reached, true);
    await ctx.write(ctx.db.batch().put(META_KEY, next));
  }
  return reached;
}
