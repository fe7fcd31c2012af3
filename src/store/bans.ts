/**
 * The peer ban list ('x' keys), kept in the chain's database but owned by the network layer
 * (src/net/peers/scores.ts `BanStore`): the store only keeps what it is given. Each write is on its own,
 * outside any chain batch.
 */
import { Reader, Writer } from "../consensus/bytes.ts";
import type { Db } from "./db.ts";
import { banKey, P_BAN, prefixRange } from "./layout.ts";

/** Stores that peer `id` is banned until `until` (ms since the epoch, rounded down to an integer). */
export async function putBan(db: Db, id: string, until: number): Promise<void> {
  await db.put(banKey(id), new Writer(8).u64(BigInt(Math.floor(until))).finish());
}

/** Removes peer `id`'s ban; nothing happens when there is none. */
export async function deleteBan(db: Db, id: string): Promise<void> {
  await db.del(banKey(id));
}

/** Every stored ban: peer id → expiry in ms since the epoch. A value not of 8 bytes is skipped. */
export async function loadBans(db: Db): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for await (const [k, v] of db.iterator(prefixRange(P_BAN))) {
    if (v.length === 8) out.set(new TextDecoder().decode(k.subarray(1)), Number(new Reader(v).u64()));
  }
  return out;
}
