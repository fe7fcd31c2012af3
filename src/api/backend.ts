import type { EventEmitter } from "node:events";
import type { Chain } from "../chain/chain.ts";
import type { Mempool } from "../mempool/index.ts";
import type { MiningView, P2PInfo, PeerView, SyncView } from "./schemas.ts";

/** Events the node relays to API clients besides the chain's own. */
export interface BackendEvents {
  peer: [event: { event: "joined" | "left" | "banned"; peer: string; reason?: string }];
  /** Miner statistics, about every two seconds while mining and once when it stops. */
  mining: [view: MiningView];
  sync: [view: SyncView];
}

/** Where a confirmed record is: its main-chain block and its position in it (the record-id index). */
export interface RecordPlace {
  blockHash: string;
  height: number;
  index: number;
}

/**
 * The record index the API reads (the chain implements it over the store's 'r' and 'a' keys). Ids and
 * keys are display hex.
 */
export interface RecordIndex {
  findRecord(id: string): Promise<RecordPlace | undefined>;
  /** An author's signed main-chain records, newest first, strictly before `before` when given. */
  recordsByAuthor(
    publicKeyHex: string,
    opts: { limit: number; before?: { height: number; index: number } },
  ): Promise<Array<RecordPlace & { id: string }>>;
}

/** Pending records and the index of confirmed ones: what the record routes need. */
export interface RecordsBackend {
  mempool: Mempool;
  index: RecordIndex;
}

/**
 * What the HTTP API needs from the node. The node implements it; the API never sees the network or
 * miner classes, so it works (and is tested) with whichever of them a node runs.
 * Methods that cannot work on this node (no P2P, no miner) throw an ApiError with status 503.
 */
export interface ApiBackend {
  readonly chain: Chain;
  readonly events: EventEmitter<BackendEvents>;
  /** Without it (a node built without a mempool) the record routes answer 503 RECORDS_UNAVAILABLE. */
  readonly records?: RecordsBackend;
  peers(): PeerView[];
  p2pInfo(): P2PInfo;
  addPeer(addr: string): Promise<void>;
  mining(): MiningView;
  startMining(): Promise<MiningView>;
  stopMining(): Promise<MiningView>;
  sync(): SyncView;
}
