import type { EventEmitter } from "node:events";
import type {
  BlockSink,
  BlockSource,
  ChainEventSource,
  ChainReader,
  RecordReader,
} from "../chain/interfaces.ts";
import type { Mempool } from "../mempool/index.ts";
import type { CosignedEvent } from "../witness/witness.ts";
import type { CheckpointView } from "./checkpoint.ts";
import type { MiningView, P2PInfo, PeerView, ReadyChecks, SyncView } from "./schemas.ts";

/** Events the node relays to API clients besides the chain's own. */
/** The `checkpoint` event's data (docs/api.md): one signature the witness stored, stamped (ms) when stored. */
export type CheckpointEvent = CosignedEvent & { time: number };

export interface BackendEvents {
  peer: [event: { event: "joined" | "left" | "banned"; peer: string; reason?: string }];
  /** Miner statistics, about every two seconds while mining and once when it stops. */
  mining: [view: MiningView];
  sync: [view: SyncView];
  /** A gossip message judged (`in`, with gossipsub's verdict and a rejection's code) or published (`out`). */
  gossip: [event: { topic: string; direction: "in" | "out"; verdict?: string; code?: string }];
  /**
   * The witness stored a signature of one of its checkpoints (src/witness, `cosigned`): `count` the
   * configured witnesses' signatures it now holds, `quorum` whether they reach the quorum, `time` when
   * (ms since the epoch).
   */
  checkpoint: [event: CheckpointEvent];
  /** The miner handed out a template (metrics only). */
  template: [event: { height: number; records: number }];
}

/** The record index the API reads: the chain's, over the store's 'r' and 'a' keys (ids display hex). */
export type RecordIndex = Pick<RecordReader, "findRecord" | "recordsByAuthor" | "readRecord">;

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
  readonly chain: ChainReader & BlockSource & BlockSink & ChainEventSource;
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
  /** Witnessed checkpoints (GET /api/checkpoint); undefined: this node has no witness (no P2P). */
  checkpoint?(): CheckpointView | undefined;
  /** What GET /api/ready reports (a backend without it is ready once it answers). */
  readiness?(): ReadyChecks;
}
