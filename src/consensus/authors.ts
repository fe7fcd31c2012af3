/**
 * Authorised authors (issue 19, item 2; docs/ledger-design.md, "Authorised authors"). A network may carry
 * an author policy: the ed25519 public keys allowed to write, each for a range of block heights, in a
 * file signed by an admin key. It is a consensus rule: a block at height h carrying a record whose author
 * is not allowed at h is invalid (UNAUTHORISED_AUTHOR), so a miner cannot confirm an outsider's record,
 * and the mempool refuses such records at admission with the same judgement.
 *
 * The rule depends only on the block's own records and its height, never on the clock or on when the
 * node learnt the policy, so every node holding the same policy judges every block alike. Rotation and
 * revocation are heights: a grant `{ from, until }` covers from <= h < until. Revoking a key at H (until
 * H) refuses its records in blocks from H on and leaves every record it wrote below H valid; rotating is
 * a revocation at H plus a grant from H for the new key. A new policy (higher `sequence`, same admin)
 * must only change heights above the node's tip (`policyChangeBelow`), or history would change under it.
 *
 * Under a policy every record but the miner record needs an author: unsigned data records are refused.
 */
import { ed25519 } from "@noble/curves/ed25519.js";
import type { Block } from "./block.ts";
import { bytesEqual, DecodeError, fromHex, toHex, Writer } from "./bytes.ts";
import { BlockError, type BlockErrorData } from "./errors.ts";
import { type BlockRecord, ed25519Verify } from "./records.ts";

/** One key's right to write: from height `from` (inclusive) until `until` (exclusive; none: for ever). */
export interface AuthorGrant {
  /** Raw 32-byte ed25519 public key. */
  readonly publicKey: Uint8Array;
  readonly from: number;
  readonly until?: number;
  /** Who it is, for people (signed too). */
  readonly name?: string;
}

/** A signed author policy. */
export interface AuthorPolicy {
  /** The network it is for (its name). */
  readonly network: string;
  /** Increases with every new policy the admin signs; a node never goes back to a lower one. */
  readonly sequence: number;
  /** The admin's raw 32-byte ed25519 public key, which signs the policy. */
  readonly admin: Uint8Array;
  readonly authors: readonly AuthorGrant[];
  /** 64-byte ed25519 signature by `admin` over `authorPolicyMessage`. */
  readonly signature: Uint8Array;
}

/** Why a record may not be written at a height: no author, a key the policy does not list, or outside its grants. */
export type AuthorRefusalReason = Extract<BlockErrorData, { code: "UNAUTHORISED_AUTHOR" }>["reason"];

export interface AuthorRefusal {
  /** The author's public key in hex, or null for an unsigned record. */
  author: string | null;
  reason: AuthorRefusalReason;
  height: number;
}

/** A policy file is not acceptable; `code` says why. */
export class AuthorPolicyError extends Error {
  constructor(
    readonly code: "MALFORMED" | "BAD_SIGNATURE" | "WRONG_NETWORK" | "ROLLBACK" | "REWRITES_HISTORY",
    message: string,
  ) {
    super(message);
    this.name = "AuthorPolicyError";
  }
}

/** Largest height a grant may name; `until` absent means for ever. */
const MAX_HEIGHT = 0xfffffffe;
const NEVER = 0xffffffff;
const DOMAIN = new TextEncoder().encode("jbc author policy v1\n");
const utf8 = new TextEncoder();

/** The bytes the admin signs: a domain tag, network, sequence, admin key and every grant, in order. */
export function authorPolicyMessage(p: Omit<AuthorPolicy, "signature">): Uint8Array {
  const w = new Writer(128 + p.authors.length * 48).bytes(DOMAIN).varBytes(utf8.encode(p.network));
  w.u32(p.sequence).bytes(p.admin).varint(p.authors.length);
  for (const g of p.authors)
    w.bytes(g.publicKey)
      .u32(g.from)
      .u32(g.until ?? NEVER)
      .varBytes(utf8.encode(g.name ?? ""));
  return w.finish();
}

/** Signs a policy with the admin's 32-byte ed25519 seed (whose public key must be `admin`). */
export function signAuthorPolicy(p: Omit<AuthorPolicy, "signature">, adminSeed: Uint8Array): AuthorPolicy {
  if (!bytesEqual(ed25519.getPublicKey(adminSeed), p.admin))
    throw new AuthorPolicyError("BAD_SIGNATURE", "the signing key is not the policy's admin key");
  return { ...p, signature: ed25519.sign(authorPolicyMessage(p), adminSeed) };
}

/** Whether the policy's signature is its admin's. */
export function verifyAuthorPolicy(p: AuthorPolicy): boolean {
  return ed25519Verify(p.signature, authorPolicyMessage(p), p.admin);
}

/** Grants by key (hex), built once per policy object. */
const indexes = new WeakMap<AuthorPolicy, Map<string, AuthorGrant[]>>();

function grantsOf(p: AuthorPolicy, key: string): AuthorGrant[] | undefined {
  let index = indexes.get(p);
  if (!index) {
    index = new Map();
    for (const g of p.authors) {
      const k = toHex(g.publicKey);
      index.set(k, [...(index.get(k) ?? []), g]);
    }
    indexes.set(p, index);
  }
  return index.get(key);
}

/** Whether `key` (hex) may write in a block at `height` under `p`. */
export function isAuthorised(p: AuthorPolicy, key: string, height: number): boolean {
  return grantsOf(p, key)?.some((g) => g.from <= height && height < (g.until ?? NEVER)) ?? false;
}

/**
 * Why `rec` may not be in a block at `height` under `policy`, or undefined when it may (always, without a
 * policy; the miner record always).
 */
export function authorRefusal(
  policy: AuthorPolicy | undefined,
  rec: BlockRecord,
  height: number,
): AuthorRefusal | undefined {
  if (!policy || rec.type === "miner") return undefined;
  if (rec.type !== "signed") return { author: null, reason: "unsigned", height };
  const author = toHex(rec.publicKey);
  if (isAuthorised(policy, author, height)) return undefined;
  const grants = grantsOf(policy, author);
  if (!grants) return { author, reason: "unlisted", height };
  return { author, reason: grants.some((g) => g.from > height) ? "not-yet" : "revoked", height };
}

/** The author rule on a block at `height`: throws UNAUTHORISED_AUTHOR for the first record refused. */
export function checkBlockAuthors(
  block: Block,
  height: number,
  policy: AuthorPolicy | undefined,
  hashHex: string,
): void {
  if (!policy) return;
  for (let i = 1; i < block.records.length; i++) {
    const r = authorRefusal(policy, block.records[i]!, height);
    if (r) throw new BlockError({ code: "UNAUTHORISED_AUTHOR", index: i, ...r }, hashHex);
  }
}

/**
 * The first key and height at or below `tip` where `next` judges differently from `prev`, or undefined:
 * a new policy may act only above the tip, so no block a node already holds changes validity. The rule
 * is constant between grant boundaries, so checking height 0 and every boundary up to `tip` suffices.
 */
export function policyChangeBelow(
  prev: AuthorPolicy,
  next: AuthorPolicy,
  tip: number,
): { author: string; height: number } | undefined {
  const keys = new Set([...prev.authors, ...next.authors].map((g) => toHex(g.publicKey)));
  const heights = new Set([0]);
  for (const g of [...prev.authors, ...next.authors])
    for (const h of [g.from, g.until ?? NEVER]) if (h <= tip) heights.add(h);
  for (const author of keys)
    for (const height of heights)
      if (isAuthorised(prev, author, height) !== isAuthorised(next, author, height))
        return { author, height };
  return undefined;
}

/**
 * Checks `next` against the policy a node ran with before (`prev`, if any) at chain height `tip`: the same
 * admin, a sequence not lower, and no change at or below the tip. Throws AuthorPolicyError.
 */
export function checkPolicyUpdate(prev: AuthorPolicy | undefined, next: AuthorPolicy, tip: number): void {
  if (!prev) return;
  if (!bytesEqual(prev.admin, next.admin))
    throw new AuthorPolicyError("ROLLBACK", "the policy is signed by another admin key than the one in use");
  if (next.sequence < prev.sequence)
    throw new AuthorPolicyError(
      "ROLLBACK",
      `policy sequence ${next.sequence} is older than ${prev.sequence}, the one this node ran with`,
    );
  const change = policyChangeBelow(prev, next, tip);
  if (change)
    throw new AuthorPolicyError(
      "REWRITES_HISTORY",
      `the policy changes what author ${change.author} may write at height ${change.height}, at or below the tip (${tip}): changes must start above it`,
    );
}

/** The JSON form of a policy file. */
export interface AuthorPolicyJson {
  type: "jbc-author-policy";
  network: string;
  sequence: number;
  admin: string;
  authors: { publicKey: string; from: number; until?: number; name?: string }[];
  signature: string;
}

/** A policy as its JSON file. */
export function authorPolicyToJson(p: AuthorPolicy): AuthorPolicyJson {
  return {
    type: "jbc-author-policy",
    network: p.network,
    sequence: p.sequence,
    admin: toHex(p.admin),
    authors: p.authors.map((g) => ({
      publicKey: toHex(g.publicKey),
      from: g.from,
      ...(g.until !== undefined ? { until: g.until } : {}),
      ...(g.name !== undefined ? { name: g.name } : {}),
    })),
    signature: toHex(p.signature),
  };
}

function field<T>(ok: boolean, value: T, what: string): T {
  if (!ok) throw new AuthorPolicyError("MALFORMED", `author policy: ${what}`);
  return value;
}

const isHeight = (v: unknown): v is number =>
  Number.isInteger(v) && (v as number) >= 0 && (v as number) <= MAX_HEIGHT;

function hexField(v: unknown, bytes: number, what: string): Uint8Array {
  const ok = typeof v === "string" && v.length === bytes * 2 && /^[0-9a-fA-F]*$/.test(v);
  try {
    return field(
      ok,
      ok ? fromHex((v as string).toLowerCase()) : new Uint8Array(),
      `${what} must be ${bytes} bytes of hex`,
    );
  } catch (err) {
    if (err instanceof DecodeError) throw new AuthorPolicyError("MALFORMED", `author policy: ${what}`);
    throw err;
  }
}

function grantFromJson(v: unknown, i: number): AuthorGrant {
  const g = field(
    typeof v === "object" && v !== null,
    v as Record<string, unknown>,
    `authors[${i}] is not an object`,
  );
  const publicKey = hexField(g.publicKey, 32, `authors[${i}].publicKey`);
  const from = field(isHeight(g.from), g.from as number, `authors[${i}].from must be a height`);
  const until =
    g.until === undefined
      ? undefined
      : field(
          isHeight(g.until) && (g.until as number) > from,
          g.until as number,
          `authors[${i}].until must be a height above from`,
        );
  const name =
    g.name === undefined
      ? undefined
      : field(
          typeof g.name === "string" && g.name.length <= 200,
          g.name as string,
          `authors[${i}].name must be a string of at most 200 characters`,
        );
  return {
    publicKey,
    from,
    ...(until !== undefined ? { until } : {}),
    ...(name !== undefined ? { name } : {}),
  };
}

/**
 * A policy's fields from parsed JSON, checked, for `network`; without `admin` and `signature` (a draft to
 * sign, `jbc authors sign`). Throws AuthorPolicyError (MALFORMED, WRONG_NETWORK).
 */
export function authorDraftFromJson(
  json: unknown,
  network: string,
): Omit<AuthorPolicy, "admin" | "signature"> {
  const o = field(
    typeof json === "object" && json !== null && !Array.isArray(json),
    json as Record<string, unknown>,
    "not a JSON object",
  );
  field(typeof o.network === "string", 0, "network must be a network name");
  const sequence = field(
    Number.isInteger(o.sequence) && (o.sequence as number) >= 0 && (o.sequence as number) <= NEVER,
    o.sequence as number,
    "sequence must be a whole number below 2^32",
  );
  const list = field(
    Array.isArray(o.authors) && o.authors.length <= 100_000,
    o.authors as unknown[],
    "authors must be a list",
  );
  if (o.network !== network)
    throw new AuthorPolicyError(
      "WRONG_NETWORK",
      `the author policy is for network "${String(o.network)}", not "${network}"`,
    );
  return { network, sequence, authors: list.map(grantFromJson) };
}

/**
 * A policy from its parsed JSON, checked: its fields, that it is for `network`, and its admin's
 * signature. Throws AuthorPolicyError (MALFORMED, WRONG_NETWORK, BAD_SIGNATURE).
 */
export function authorPolicyFromJson(json: unknown, network: string): AuthorPolicy {
  const draft = authorDraftFromJson(json, network);
  const o = json as Record<string, unknown>;
  field(o.type === "jbc-author-policy", 0, `type must be "jbc-author-policy"`);
  const policy: AuthorPolicy = {
    ...draft,
    admin: hexField(o.admin, 32, "admin"),
    signature: hexField(o.signature, 64, "signature"),
  };
  if (!verifyAuthorPolicy(policy))
    throw new AuthorPolicyError("BAD_SIGNATURE", "the author policy's signature is not its admin key's");
  return policy;
}
