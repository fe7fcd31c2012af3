/**
 * A node's witness (docs/ledger-design.md, "Witnessed checkpoints"): it signs the block at depth k below
 * its tip as a C2SP checkpoint note with its key, gossips the signature, collects the other nodes'
 * signatures of checkpoints on its own main chain, and, when the configured witnesses' quorum has signed
 * one, holds it as final in the chain (ChainFinality): the node never reorganises below it again. A
 * witness's valid signature of another block at a height it holds is reported as an equivocation, with
 * both notes; a block refused for forking below the final checkpoint is reported too.
 *
 * It decides nothing about blocks: the chain's one check (FORK_BEFORE_CHECKPOINT) does. Memory is bounded:
 * MAX_HEIGHTS checkpoints, MAX_SIGNERS signers each, MAX_REPORTS reports of each kind.
 */
import { EventEmitter } from "node:events";
import type { ChainEventSource, ChainFinality, ChainReader } from "../chain/interfaces.ts";
import { checkpointOrigin, formatCheckpoint, type WitnessCheckpoint } from "../consensus/checkpoint.ts";
import {
  formatNote,
  formatVerifierKey,
  type NoteSignature,
  type NoteSigner,
  type NoteVerifier,
  sameVerifier,
  signNoteText,
} from "../consensus/note.ts";
import type { NetworkParams } from "../consensus/params.ts";
import { errorMessage } from "../util/errors.ts";
import type { Logger } from "../util/logger.ts";
import {
  type Cosignature,
  CosignError,
  encodeCosignature,
  parseCosignature,
  verifyCosignature,
} from "./message.ts";

/** Checkpoints (heights) remembered with their signatures. */
const MAX_HEIGHTS = 64;
/** Signers kept per checkpoint: every configured witness, and this many others. */
const MAX_SIGNERS = 32;
/** Equivocations and refused forks kept for the API. */
const MAX_REPORTS = 32;
/**
 * Least time between two of this node's signatures. A tip that comes sooner is signed when the interval
 * is up, with whatever tip is then the latest: a burst of blocks (a sync, a reorg, blocks mined back to
 * back) costs one signature, and the peers' cosignatures of it, per interval instead of one per block,
 * while a block alone, as at the tip of a team's log, is still signed at once.
 */
export const SIGN_INTERVAL_MS = 500;
/** Penalty for a cosignature that does not verify or does not parse (a peer relays only what it checked). */
export const FORGED_COSIGN_PENALTY = 100;

export interface WitnessOptions {
  params: NetworkParams;
  chain: ChainReader & ChainEventSource & ChainFinality;
  signer: NoteSigner;
  /** The configured witnesses (`--witnesses FILE`); empty: sign and exchange, never finalize. */
  witnesses: readonly NoteVerifier[];
  /** Distinct witnesses whose signatures make a checkpoint final (`--quorum`). */
  quorum: number;
  /** Depth below the tip of the block signed (k; default 6). */
  depth?: number;
  logger: Logger;
  /** Wall clock in ms (tests). */
  now?: () => number;
  /** Least ms between two signatures (default SIGN_INTERVAL_MS; 0 signs at every tip). */
  signIntervalMs?: number;
}

interface Held {
  checkpoint: WitnessCheckpoint;
  text: string;
  sigs: Map<string, { verifier: NoteVerifier; signature: NoteSignature; witness: boolean }>;
}

export interface Equivocation {
  at: string;
  height: number;
  witness: string;
  /** The note this node holds at that height, with its signatures. */
  held: { hash: string; note: string };
  /** The conflicting note, with the witness's signature. */
  conflicting: { hash: string; note: string };
}

export interface RefusedFork {
  at: string;
  hash: string;
  finalHeight: number;
}

/** One signature stored on a held checkpoint (the witness's `cosigned` event). */
export interface CosignedEvent {
  height: number;
  hash: string;
  signer: string;
  /** Whether the signer is one of the configured witnesses. */
  witness: boolean;
  count: number;
  quorum: boolean;
}

/** What a gossiped cosignature earned: relay it, drop it, or drop it and penalise the sender. */
export type CosignVerdict =
  | { verdict: "accept" | "ignore" }
  | { verdict: "reject"; penalty: number; reason: string };

export interface WitnessEvents {
  /** A cosignature to gossip (this node's own). */
  publish: [message: Uint8Array];
  final: [event: { height: number; hash: string; note: string; cosigners: string[] }];
  equivocation: [event: Equivocation];
  refused: [event: RefusedFork];
  /**
   * Every signature stored on a checkpoint of this node's main chain (its own and peers'), for timing:
   * `count` the configured witnesses' signatures it now holds, `quorum` whether they reach the quorum.
   */
  cosigned: [event: CosignedEvent];
}

export class Witness extends EventEmitter<WitnessEvents> {
  readonly origin: string;
  readonly depth: number;
  private readonly held = new Map<number, Held>();
  private lastSigned = -1;
  private lastSignAt = -Infinity;
  private signTimer: ReturnType<typeof setTimeout> | undefined;
  private final: { height: number; hash: string; note: string; cosigners: string[] } | undefined;
  readonly equivocations: Equivocation[] = [];
  readonly refusedForks: RefusedFork[] = [];
  /** Counters for /metrics. */
  readonly counts = { signed: 0, received: 0, forged: 0, equivocations: 0, refusedForks: 0, finalized: 0 };
  private readonly now: () => number;

  constructor(private readonly opts: WitnessOptions) {
    super();
    this.origin = checkpointOrigin(opts.params);
    this.depth = opts.depth ?? 6;
    this.now = opts.now ?? Date.now;
    if (opts.witnesses.length > 0 && (opts.quorum < 1 || opts.quorum > opts.witnesses.length))
      throw new RangeError(`quorum ${opts.quorum} of ${opts.witnesses.length} witnesses`);
  }

  /** This node's verifier key (the line a team puts in its witnesses file). */
  get vkey(): string {
    return formatVerifierKey(this.opts.signer.name, this.opts.signer.publicKey);
  }

  /** Follows the chain: signs at every new tip, reports refused forks. */
  start(): void {
    this.opts.chain.on("tip", this.onTip);
    this.opts.chain.on("invalid", this.onInvalid);
    this.onTip();
  }

  stop(): void {
    clearTimeout(this.signTimer);
    this.signTimer = undefined;
    this.opts.chain.off("tip", this.onTip);
    this.opts.chain.off("invalid", this.onInvalid);
  }

  /** Signs now, or once the sign interval is up when the last signature is more recent (coalescing). */
  private readonly onTip = (): void => {
    if (this.signTimer) return; // the pending signature will take this tip
    const wait = this.lastSignAt + (this.opts.signIntervalMs ?? SIGN_INTERVAL_MS) - this.now();
    if (wait <= 0) {
      this.sign();
      return;
    }
    this.signTimer = setTimeout(() => {
      this.signTimer = undefined;
      this.sign();
    }, wait);
    this.signTimer.unref(); // a pending signature never holds the process open
  };

  /** Signs the block at depth k below the tip when it is higher than the last one signed. */
  private sign(): void {
    const { chain, signer } = this.opts;
    const height = chain.height - this.depth;
    if (height < 1 || height <= this.lastSigned) return;
    const e = chain.getEntryAt(height);
    if (!e) return;
    const checkpoint = { origin: this.origin, height, hash: e.hash, chainWork: e.chainWork };
    const text = formatCheckpoint(checkpoint);
    const signature = signNoteText(text, signer);
    this.lastSigned = height;
    this.lastSignAt = this.now();
    this.counts.signed++;
    this.store({ verifier: signer, text, checkpoint, signature });
    this.emit("publish", encodeCosignature(signer, text, signature));
  }

  private readonly onInvalid = (e: { hash: string; code: string }): void => {
    const final = this.opts.chain.finalCheckpoint;
    if (e.code !== "FORK_BEFORE_CHECKPOINT" || !final) return;
    const report = { at: new Date(this.now()).toISOString(), hash: e.hash, finalHeight: final.height };
    this.counts.refusedForks++;
    push(this.refusedForks, report);
    this.opts.logger.warn(report, "refused a branch that forks below the witnessed final checkpoint");
    this.emit("refused", report);
  };

  /**
   * Judges a gossiped cosignature: stored when it is for this node's main chain. The signature is checked
   * only when the message would change something (a new signature of a held or final-or-later checkpoint,
   * or a witness's conflicting one); anything else is ignored unchecked, unrelayed. Never throws.
   */
  receive(data: Uint8Array): CosignVerdict {
    let c: Cosignature;
    try {
      c = parseCosignature(data);
    } catch (err) {
      return this.forged(err);
    }
    this.counts.received++;
    const { checkpoint } = c;
    if (checkpoint.origin !== this.origin) return { verdict: "ignore" };
    const witness = this.isWitness(c.verifier);
    const mine = this.opts.chain.getEntryAt(checkpoint.height);
    const h = this.held.get(checkpoint.height);
    const onMain = mine?.hash === checkpoint.hash;
    if (onMain ? this.redundant(c, h) : !(witness && h && h.checkpoint.hash !== checkpoint.hash))
      return { verdict: "ignore" };
    try {
      verifyCosignature(c);
    } catch (err) {
      return this.forged(err);
    }
    if (mine && onMain) {
      if (mine.chainWork !== checkpoint.chainWork)
        return { verdict: "reject", penalty: FORGED_COSIGN_PENALTY, reason: "cosignature: wrong chain work" };
      return this.store(c) ? { verdict: "accept" } : { verdict: "ignore" };
    }
    // A configured witness's signature of another block at a height held: evidence, reported, not relayed.
    if (h) this.equivocation(c, h);
    return { verdict: "ignore" };
  }

  /** A signature of a main-chain checkpoint that changes nothing: held already, or below the final one. */
  private redundant(c: Cosignature, h: Held | undefined): boolean {
    if (h?.checkpoint.hash === c.checkpoint.hash && h.sigs.has(signerKey(c.verifier))) return true;
    return this.final !== undefined && c.checkpoint.height < this.final.height;
  }

  private forged(err: unknown): CosignVerdict {
    if (!(err instanceof CosignError)) throw err;
    this.counts.forged++;
    const reason = `cosignature ${err.code}: ${err.message}`;
    return { verdict: "reject", penalty: FORGED_COSIGN_PENALTY, reason };
  }

  private isWitness(v: NoteVerifier): boolean {
    return this.opts.witnesses.some((w) => sameVerifier(w, v));
  }

  /** Adds a checked signature of a main-chain checkpoint; returns whether it was new. Checks the quorum. */
  private store(c: Cosignature): boolean {
    const { height } = c.checkpoint;
    let h = this.held.get(height);
    if (h && h.checkpoint.hash !== c.checkpoint.hash) {
      // This node's chain moved (a reorg above the final checkpoint): the old checkpoint is gone.
      this.held.delete(height);
      h = undefined;
    }
    if (!h) {
      h = { checkpoint: c.checkpoint, text: c.text, sigs: new Map() };
      this.held.set(height, h);
      for (const old of [...this.held.keys()].sort((a, b) => a - b).slice(0, -MAX_HEIGHTS))
        this.held.delete(old);
    }
    const key = signerKey(c.verifier);
    if (h.sigs.has(key)) return false;
    const witness = this.isWitness(c.verifier);
    if (!witness && h.sigs.size >= this.opts.witnesses.length + MAX_SIGNERS) return false;
    h.sigs.set(key, { verifier: c.verifier, signature: c.signature, witness });
    const count = [...h.sigs.values()].filter((s) => s.witness).length;
    const quorum = this.opts.witnesses.length > 0 && count >= this.opts.quorum;
    this.emit("cosigned", {
      height,
      hash: h.checkpoint.hash,
      signer: c.verifier.name,
      witness,
      count,
      quorum,
    });
    if (quorum && (!this.final || height > this.final.height)) void this.finalize(h);
    return true;
  }

  /** Holds a quorum checkpoint as final in the chain, then announces it. */
  private async finalize(h: Held): Promise<void> {
    const { height, hash } = h.checkpoint;
    const cosigners = [...h.sigs.values()].filter((s) => s.witness).map((s) => s.verifier.name);
    const note = this.noteOf(h, true);
    if (this.final && height <= this.final.height) return;
    this.final = { height, hash, note, cosigners };
    let held: boolean;
    try {
      held = await this.opts.chain.finalize({ height, hash });
    } catch (err) {
      // The chain closed under a late signature or cosignature (shutdown): nothing is lost, it is redone
      // from final.json and the peers' next signatures at the next start.
      this.opts.logger.debug({ height, err: errorMessage(err) }, "checkpoint not held: the chain is closed");
      return;
    }
    if (!held) return;
    this.counts.finalized++;
    this.opts.logger.info({ height, hash, cosigners }, "checkpoint final: cosigned by the witnesses' quorum");
    this.emit("final", { height, hash, note, cosigners });
  }

  /** Holds a stored quorum note again (at startup); returns whether the chain took it. */
  async restore(note: { height: number; hash: string; note: string; cosigners: string[] }): Promise<boolean> {
    if (!(await this.opts.chain.finalize({ height: note.height, hash: note.hash }))) return false;
    this.final = note;
    return true;
  }

  private equivocation(c: Cosignature, h: Held): void {
    const conflicting = formatNote({ text: c.text, signatures: [c.signature] });
    const report: Equivocation = {
      at: new Date(this.now()).toISOString(),
      height: c.checkpoint.height,
      witness: c.verifier.name,
      held: { hash: h.checkpoint.hash, note: this.noteOf(h, false) },
      conflicting: { hash: c.checkpoint.hash, note: conflicting },
    };
    if (this.equivocations.some((e) => e.witness === report.witness && e.conflicting.note === conflicting))
      return;
    this.counts.equivocations++;
    push(this.equivocations, report);
    this.opts.logger.warn(report, "equivocation: a witness signed a conflicting checkpoint");
    this.emit("equivocation", report);
  }

  /** A held checkpoint's note: its witnesses' signatures only, or every signature held. */
  private noteOf(h: Held, witnessesOnly: boolean): string {
    const sigs = [...h.sigs.values()].filter((s) => !witnessesOnly || s.witness).map((s) => s.signature);
    return formatNote({ text: h.text, signatures: sigs.slice(0, 100) });
  }

  /** The latest checkpoint held (with every signature), and the final one. */
  view(): WitnessView {
    const top = Math.max(-1, ...this.held.keys());
    const h = this.held.get(top);
    const latest = h && {
      height: h.checkpoint.height,
      hash: h.checkpoint.hash,
      chainWork: h.checkpoint.chainWork.toString(),
      note: this.noteOf(h, false),
      signers: [...h.sigs.values()].map((s) => ({ name: s.verifier.name, witness: s.witness })),
    };
    return {
      origin: this.origin,
      depth: this.depth,
      quorum: this.opts.witnesses.length > 0 ? this.opts.quorum : 0,
      self: { name: this.opts.signer.name, vkey: this.vkey },
      witnesses: this.opts.witnesses.map((w) => formatVerifierKey(w.name, w.publicKey)),
      latest: latest ?? null,
      final: this.final ?? null,
      equivocations: [...this.equivocations],
      refusedForks: [...this.refusedForks],
      counts: { ...this.counts },
    };
  }
}

/** What GET /api/checkpoint answers in JSON. */
export interface WitnessView {
  origin: string;
  depth: number;
  quorum: number;
  self: { name: string; vkey: string };
  witnesses: string[];
  latest: {
    height: number;
    hash: string;
    chainWork: string;
    note: string;
    signers: Array<{ name: string; witness: boolean }>;
  } | null;
  final: { height: number; hash: string; note: string; cosigners: string[] } | null;
  equivocations: Equivocation[];
  refusedForks: RefusedFork[];
  counts: Witness["counts"];
}

/**
 * A signer's identity in a held checkpoint: name, key id and the key itself. The key id is only 32 bits, so
 * name and key id alone would let a forger who found a colliding key take a witness's place first.
 */
function signerKey(v: NoteVerifier): string {
  return formatVerifierKey(v.name, v.publicKey);
}

function push<T>(list: T[], item: T): void {
  list.push(item);
  if (list.length > MAX_REPORTS) list.shift();
}
