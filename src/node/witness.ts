/**
 * Wiring of the node's witness (src/witness; docs/ledger-design.md, "Witnessed checkpoints"): its key is
 * the node's libp2p Ed25519 key (datadir/p2p/peer.key, src/net/identity.ts), so the peer id a team already
 * knows and the witness are one identity; its name is the peer id unless `--witness-name` says otherwise.
 * The configured witnesses come from a file of verifier keys (`--witnesses FILE`), and the last final
 * checkpoint is kept in datadir/witness/final.json, so a restart holds it again before any block arrives.
 */
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import type { ChainEventSource, ChainFinality, ChainReader } from "../chain/interfaces.ts";
import { checkQuorum, parseWitnesses } from "../consensus/checkpoint.ts";
import { type NoteVerifier, noteSigner } from "../consensus/note.ts";
import type { NetworkParams } from "../consensus/params.ts";
import { loadOrCreatePeerKey } from "../net/identity.ts";
import { errorMessage } from "../util/errors.ts";
import type { Logger } from "../util/logger.ts";
import { Witness } from "../witness/witness.ts";
import { nativeEd25519Sign } from "./crypto.ts";

export interface WitnessConfig {
  /** The configured witnesses' verifier keys (from `--witnesses FILE`, parseWitnesses). */
  witnesses?: NoteVerifier[];
  /** Distinct witnesses that make a checkpoint final (default: a majority of them). */
  quorum?: number;
  /** Depth below the tip of the block signed (default 6). */
  depth?: number;
  /** This node's signer name (default its peer id). */
  name?: string;
}

/** Reads a witnesses file (verifier keys, one a line); throws with the file named when it does not parse. */
export async function readWitnessesFile(path: string): Promise<NoteVerifier[]> {
  try {
    return parseWitnesses(await readFile(path, "utf8"));
  } catch (err) {
    throw new Error(`cannot use the witnesses file ${path}: ${errorMessage(err)}`, { cause: err });
  }
}

/** The file the last final checkpoint is kept in. */
export const finalFile = (datadir: string): string => join(datadir, "witness", "final.json");

/** Builds the node's witness on its key, holds the saved final checkpoint again, and starts it. */
export async function openWitness(o: {
  datadir: string;
  params: NetworkParams;
  chain: ChainReader & ChainEventSource & ChainFinality;
  config: WitnessConfig | undefined;
  logger: Logger;
}): Promise<Witness> {
  const logger = o.logger.child({ module: "witness" });
  const key = await loadOrCreatePeerKey(join(o.datadir, "p2p", "peer.key"));
  const name = o.config?.name ?? peerIdFromPrivateKey(key).toString();
  const seed = key.raw.subarray(0, 32);
  const witnesses = o.config?.witnesses ?? [];
  const quorum = o.config?.quorum ?? Math.floor(witnesses.length / 2) + 1;
  const witness = new Witness({
    params: o.params,
    chain: o.chain,
    // OpenSSL signs (the same signatures as @noble's, about ten times faster): one checkpoint a block.
    signer: { ...noteSigner(name, seed), sign: nativeEd25519Sign(seed) },
    witnesses,
    quorum,
    ...(o.config?.depth !== undefined ? { depth: o.config.depth } : {}),
    logger,
  });
  await restoreFinal(o.datadir, witness, witnesses, quorum, logger);
  witness.on("final", finalSaver(o.datadir, logger));
  witness.start();
  logger.info({ vkey: witness.vkey, witnesses: witnesses.length, quorum, depth: witness.depth }, "witness");
  return witness;
}

/**
 * Saves each final checkpoint, one write at a time: a checkpoint final while the last is being written
 * waits, and only the latest of those is written (two writes of one temporary file at once could leave
 * the file half of each).
 */
function finalSaver(datadir: string, logger: Logger): (f: object) => void {
  let next: object | undefined;
  let writing = false;
  const drain = async (): Promise<void> => {
    writing = true;
    while (next) {
      const f = next;
      next = undefined;
      await saveFinal(datadir, f).catch((err: unknown) =>
        logger.warn({ err: errorMessage(err) }, "saving the final checkpoint failed"),
      );
    }
    writing = false;
  };
  return (f) => {
    next = f;
    if (!writing) void drain();
  };
}

async function saveFinal(datadir: string, f: object): Promise<void> {
  const path = finalFile(datadir);
  await mkdir(join(datadir, "witness"), { recursive: true });
  await writeFile(`${path}.tmp`, JSON.stringify(f));
  await rename(`${path}.tmp`, path);
}

/** Holds the saved final checkpoint again when the configured quorum still signs it and it is on main. */
async function restoreFinal(
  datadir: string,
  witness: Witness,
  witnesses: NoteVerifier[],
  quorum: number,
  log: Logger,
): Promise<void> {
  let saved: { note?: unknown };
  try {
    saved = JSON.parse(await readFile(finalFile(datadir), "utf8")) as { note?: unknown };
  } catch {
    return;
  }
  if (witnesses.length === 0 || typeof saved.note !== "string") return;
  const q = checkQuorum(saved.note, witness.origin, witnesses, quorum);
  if (!q.ok) {
    log.warn({ reason: q.reason }, "the saved final checkpoint is not the configured quorum's: not held");
    return;
  }
  const { height, hash } = q.checkpoint;
  const held = await witness.restore({ height, hash, note: saved.note, cosigners: q.cosigners });
  log.info({ height, hash, held }, "final checkpoint restored");
}
