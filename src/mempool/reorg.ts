/**
 * What a switch of the main chain means for the pool, as plain data (Bitcoin Core's
 * DisconnectedBlockTransactions / MaybeUpdateMempoolForReorg): the ids the new branch confirms, and the
 * records of the disconnected blocks that come back. `Mempool.reorg` applies it.
 */
import { type Block, recordIds } from "../consensus/block.ts";
import { hashToHex } from "../consensus/header.ts";
import { type BlockRecord, decodeRecordViews, encodeRecord } from "../consensus/records.ts";

/** One switch of the main chain; both lists oldest block first. */
export interface ChainSwitch {
  disconnected: readonly Block[];
  connected: readonly Block[];
}

/** A record a switch puts back, with its bytes and id (display hex). */
export interface ReturnedRecord {
  id: string;
  record: BlockRecord;
  bytes: Uint8Array;
}

/** A block's record ids in block order, in the display hex the pool keys records by. */
export function blockRecordIds(block: Block): string[] {
  return recordIds(block).map(hashToHex);
}

/**
 * The ids the connected blocks carry, and the records of the disconnected blocks that none of them
 * carries: each once, miner records left out, in chain order (oldest block first, block order within it).
 */
export function planSwitch(change: ChainSwitch): { confirmed: Set<string>; returned: ReturnedRecord[] } {
  const confirmed = new Set<string>();
  for (const block of change.connected) for (const id of blockRecordIds(block)) confirmed.add(id);
  const returned: ReturnedRecord[] = [];
  const seen = new Set<string>();
  for (const block of change.disconnected) {
    const ids = blockRecordIds(block);
    for (let i = 0; i < block.records.length; i++) {
      const record = block.records[i]!;
      const id = ids[i]!;
      if (record.type === "miner" || confirmed.has(id) || seen.has(id)) continue;
      seen.add(id);
      // The pool's own bytes, with the record as views into them (held once, as admission keeps them).
      const bytes = encodeRecord(record).slice();
      returned.push({ id, record: decodeRecordViews(bytes), bytes });
    }
  }
  return { confirmed, returned };
}
