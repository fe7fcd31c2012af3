/** Author-policy fixtures: fixed ed25519 seeds for an admin and three authors, and a signer of policies. */
import { type AuthorGrant, type AuthorPolicy, signAuthorPolicy } from "../../src/consensus/authors.ts";
import type { NetworkParams } from "../../src/consensus/params.ts";
import { ed25519PublicKey, type SignedRecord, signRecord } from "../../src/consensus/records.ts";

const seed = (n: number): Uint8Array => new Uint8Array(32).fill(n);

/** Seeds and public keys: `admin` signs policies; alice, bob and carol write records. */
export const KEYS = Object.fromEntries(
  (["admin", "alice", "bob", "carol", "mallory"] as const).map((name, i) => [
    name,
    { seed: seed(i + 1), publicKey: ed25519PublicKey(seed(i + 1)) },
  ]),
) as Record<"admin" | "alice" | "bob" | "carol" | "mallory", { seed: Uint8Array; publicKey: Uint8Array }>;

/** A policy for `params`' network signed by KEYS.admin. */
export function makePolicy(
  params: NetworkParams,
  grants: { who: keyof typeof KEYS; from: number; until?: number }[],
  sequence = 1,
): AuthorPolicy {
  const authors: AuthorGrant[] = grants.map((g) => ({
    publicKey: KEYS[g.who].publicKey,
    from: g.from,
    ...(g.until !== undefined ? { until: g.until } : {}),
    name: g.who,
  }));
  return signAuthorPolicy(
    { network: params.name, sequence, admin: KEYS.admin.publicKey, authors },
    KEYS.admin.seed,
  );
}

/** A record signed by one of KEYS, with distinct data per `tag`. */
export function recordBy(who: keyof typeof KEYS, tag: string): SignedRecord {
  return signRecord(new TextEncoder().encode(`${who}: ${tag}`), KEYS[who].seed);
}
