import type { AuthorPolicy } from "./authors.ts";
import { type Block, encodeBlock, MAX_BLOCK_RECORDS, MAX_BLOCK_SIZE } from "./block.ts";
import { bitsToTarget } from "./compact.ts";
import { headerHash } from "./header.ts";
import { merkleRoot } from "./merkle.ts";
import { MAX_RECORD_SIZE, recordId } from "./records.ts";

/**
 * A network is a parameter set. Networks differ in genesis block (so their chains can never join),
 * network id (checked in the P2P handshake and used in gossip topic names), proof-of-work limit and
 * difficulty schedule.
 */
export interface NetworkParams {
  readonly name: NetworkName;
  /** 4-byte id exchanged in the P2P status message; peers on another id are disconnected. */
  readonly networkId: number;
  readonly genesis: Block;
  /** Display hash of the genesis block. */
  readonly genesisHash: string;
  /** Easiest target allowed. */
  readonly powLimit: bigint;
  /** Target seconds between blocks. */
  readonly targetSpacing: number;
  /** ASERT half-life in seconds: how long a schedule deviation takes to halve or double the target. */
  readonly asertHalfLife: number;
  /** When true every block must carry the genesis bits (regtest: tests choose their own times). */
  readonly noRetargeting: boolean;
  /** Maximum seconds a block's time may be ahead of the node's clock. */
  readonly maxFutureDrift: number;
  readonly maxBlockSize: number;
  readonly maxRecordSize: number;
  /** Most records a block may hold, the miner record included (MAX_BLOCK_RECORDS on both networks). */
  readonly maxBlockRecords: number;
  /**
   * Least total work a chain must show before this node spends anything on blocks nobody asked for on it
   * (Bitcoin Core's `-minimumchainwork`): an unrequested block whose chain has less is dropped, header and
   * body, and only a sync (blocks asked for) can bring such a chain in. 0 on a network that starts fresh
   * (docs/protocol.md, "Blocks nobody asked for"); raise it to the work of a known good chain once one exists.
   */
  readonly minChainWork: bigint;
  /** Height → display hash. Blocks at these heights must match; forks below the last one are refused. */
  readonly checkpoints: ReadonlyMap<number, string>;
  /** Who may write (authors.ts): set from a team's signed policy file; anyone, when absent. */
  readonly authors?: AuthorPolicy;
}

export type NetworkName = "devnet" | "regtest";

const utf8 = new TextEncoder();

/** Builds a genesis block; the nonce was found once and is fixed in the code below. */
function makeGenesis(time: number, bits: number, nonce: number, message: string): Block {
  const records: Block["records"] = [
    { type: "miner", height: 0, extraNonce: 0n, miner: "genesis" },
    { type: "data", data: utf8.encode(message) },
  ];
  return {
    header: {
      version: 1,
      prevHash: new Uint8Array(32),
      merkleRoot: merkleRoot(records.map(recordId)),
      time,
      bits,
      nonce,
    },
    records,
  };
}

/**
 * Assembles a parameter set, deriving the genesis hash (the record cap defaults to MAX_BLOCK_RECORDS and the
 * minimum chain work to 0). Exposed so tests and simulations can vary rules.
 */
export function defineNetwork(
  p: Omit<NetworkParams, "genesisHash" | "maxBlockRecords" | "minChainWork"> &
    Partial<Pick<NetworkParams, "maxBlockRecords" | "minChainWork">>,
): NetworkParams {
  return {
    maxBlockRecords: MAX_BLOCK_RECORDS,
    minChainWork: 0n,
    ...p,
    genesisHash: headerHash(p.genesis.header),
  };
}

const GENESIS_TIME = 1795478400; // 2026-11-24T00:00:00Z
const GENESIS_MESSAGE = "jbc: JackBlockChain, made real. 2026-11-24";

/**
 * devnet: a few seconds a block on a laptop. Genesis needs about 2^24 hashes (about a second on one core
 * with the native kernel); ASERT then finds the machine's pace within a few half-lives.
 */
export const devnet: NetworkParams = defineNetwork({
  name: "devnet",
  networkId: 0x6a626364, // "jbcd"
  genesis: makeGenesis(GENESIS_TIME, 0x1e00ffff, 19369747, GENESIS_MESSAGE),
  powLimit: bitsToTarget(0x1f00ffff)!,
  targetSpacing: 5,
  asertHalfLife: 150,
  noRetargeting: false,
  maxFutureDrift: 15,
  maxBlockSize: MAX_BLOCK_SIZE,
  maxRecordSize: MAX_RECORD_SIZE,
  maxBlockRecords: MAX_BLOCK_RECORDS,
  // A devnet starts from genesis on the laptops that run it: no chain is known in advance, so no floor.
  minChainWork: 0n,
  checkpoints: new Map(),
});

/** regtest: trivial work (about two hashes a block) and fixed difficulty, for tests. */
export const regtest: NetworkParams = defineNetwork({
  name: "regtest",
  networkId: 0x6a626372, // "jbcr"
  genesis: makeGenesis(GENESIS_TIME, 0x207fffff, 7, GENESIS_MESSAGE),
  powLimit: bitsToTarget(0x207fffff)!,
  targetSpacing: 1,
  asertHalfLife: 60,
  noRetargeting: true,
  maxFutureDrift: 15,
  maxBlockSize: MAX_BLOCK_SIZE,
  maxRecordSize: MAX_RECORD_SIZE,
  maxBlockRecords: MAX_BLOCK_RECORDS,
  minChainWork: 0n,
  checkpoints: new Map(),
});

export const networks: Readonly<Record<NetworkName, NetworkParams>> = { devnet, regtest };

/** Looks a network up by name; throws a RangeError naming the known ones. */
export function getNetwork(name: string): NetworkParams {
  const n = (networks as Record<string, NetworkParams>)[name];
  if (!n) throw new RangeError(`unknown network "${name}" (known: ${Object.keys(networks).join(", ")})`);
  return n;
}

/** Size of the encoded genesis, handy for storage sanity checks. */
export function genesisBytes(p: NetworkParams): Uint8Array {
  return encodeBlock(p.genesis);
}
