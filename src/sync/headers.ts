/**
 * Sync's header tree (issue 21, headers first; Bitcoin Core's `mapBlockIndex` entries without data and
 * `pindexBestKnownBlock` per peer, PR 4468): the headers peers sent, each checked by the chain against its
 * parent (Chain.checkHeaders) before it is kept, and for each peer the header with the most work it is
 * known to have. A body is asked for only along the path to `target()`, a header chain already shown to
 * have more work than our tip, and only from a peer whose known header descends from the block: so a peer
 * that claims more work than its headers show, or whose headers broke a rule, gets no body request.
 *
 * Memory only, bounded by `maxHeaders` (a header round stops asking when it is full), and pruned as bodies
 * are imported: a header at or below our tip's height goes, and the lowest one left is pointed at the tree's
 * entry so that walks down a branch (the chain's bits context, `reach`) stay as short as the headers ahead.
 */
import type { ChainEntry } from "../chain/types.ts";
import type { BlockError } from "../consensus/errors.ts";
import { sha256d } from "../consensus/hash.ts";
import { hashToHex } from "../consensus/header.ts";
import type { SyncChain, SyncPeer } from "./types.ts";

/** Headers per /jbc/headers/1 request (the protocol's bound). */
export const HEADERS_PER_REQUEST = 2_000;

/** What adding a peer's headers did: how many were new, and the rule one broke, if any. */
export interface HeadersAdded {
  added: number;
  /** The header chain ends (fewer than asked for) or broke: no more to ask of this peer now. */
  error?: BlockError;
  /** The first header follows none held here or in the tree (a pipelined range whose predecessor differs). */
  unlinked?: boolean;
}

/** The headers of a sync, and which of them each peer has. */
export class SyncHeaders {
  /** Checked headers not (yet) in the chain's tree, by display hash. */
  private readonly byHash = new Map<string, ChainEntry>();
  /** Peer id → the header with the most work the peer is known to have (ours or the tree's). */
  private readonly best = new Map<string, ChainEntry>();

  constructor(
    private readonly chain: SyncChain,
    readonly maxHeaders: number,
  ) {}

  /** Headers held. */
  get count(): number {
    return this.byHash.size;
  }

  /** A header held here or a block in the chain's tree. */
  lookup(hash: string): ChainEntry | undefined {
    return this.byHash.get(hash) ?? this.chain.getEntry(hash);
  }

  /** The header with the most work `peer` is known to have. */
  bestOf(peer: SyncPeer): ChainEntry | undefined {
    return this.best.get(peer.id);
  }

  /** Raises `peer`'s best known header to its claimed tip if that tip is known here (its status names it). */
  noteTip(peer: SyncPeer): void {
    const tip = peer.status?.tip;
    const e = tip && this.lookup(hashToHex(tip));
    if (e) this.raise(peer, e);
  }

  /** Forgets a peer that left (its headers stay: others may have them). */
  forget(id: string): void {
    this.best.delete(id);
  }

  /**
   * Checks `headers` from `peer` (each following the one before, the first after a header known here) and
   * keeps those that pass; the peer's best known header becomes the last of them.
   */
  add(peer: SyncPeer, headers: readonly Uint8Array[]): HeadersAdded {
    let parent = headers[0] && this.lookup(hashToHex(headers[0].subarray(4, 36)));
    // A first answer's link to our locator was checked by the fetcher; a pipelined range's is checked here.
    if (!parent) return { added: 0, unlinked: headers.length > 0 };
    // Headers known already (another peer sent them) are not checked twice.
    let i = 0;
    for (; i < headers.length; i++) {
      const known = this.lookup(hashToHex(sha256d(headers[i]!)));
      if (!known) break;
      parent = known;
    }
    this.raise(peer, parent);
    const run = this.chain.checkHeaders(parent, headers.slice(i));
    for (const e of run.entries) if (!this.chain.getEntry(e.hash)) this.byHash.set(e.hash, e);
    const last = run.entries[run.entries.length - 1];
    if (last) this.raise(peer, last);
    const added = run.entries.length;
    return run.error ? { added, error: run.error.error } : { added };
  }

  /** Locator for a headers request: from `from` (a header held here or a tree entry) down, then the main chain. */
  locator(from: ChainEntry | undefined): Uint8Array[] {
    const out: Uint8Array[] = [];
    let e = from;
    // Our own headers first, newest first and sparser with depth, then the tree's locator where they end.
    for (let step = 1; e && !this.chain.getEntry(e.hash); ) {
      out.push(e.hashBytes);
      if (out.length >= 10) step *= 2;
      for (let i = 0; i < step && e && !this.chain.getEntry(e.hash); i++) e = e.parent;
    }
    const base = e && this.chain.getEntry(e.hash);
    for (const h of this.chain.locator(base)) out.push(this.lookup(h)!.hashBytes);
    return out;
  }

  /** Among `peers`' best known headers, the one with the most work, if it has more than our tip. */
  target(peers: Iterable<SyncPeer>): ChainEntry | undefined {
    let best: ChainEntry | undefined;
    for (const p of peers) {
      const e = this.best.get(p.id);
      if (e && (!best || e.chainWork > best.chainWork)) best = e;
    }
    return best && best.chainWork > this.chain.tip.chainWork ? best : undefined;
  }

  /**
   * The path of `target`: the headers above the main chain up to it, oldest first (the fork point is the
   * first one's parent). Bodies are fetched for these and imported in this order.
   */
  pathTo(target: ChainEntry): ChainEntry[] {
    const out: ChainEntry[] = [];
    for (let e: ChainEntry | undefined = target; e && !this.onMain(e); e = e.parent) out.push(e);
    return out.reverse();
  }

  /**
   * The highest height of `path` that `peer` has: the height where its best known header's branch meets
   * the path (a peer whose headers are on another branch has only the blocks below the fork).
   */
  reach(peer: SyncPeer, path: readonly ChainEntry[]): number {
    const e0 = path[0];
    if (!this.best.has(peer.id)) this.noteTip(peer); // a peer that joined during the download
    let e = this.best.get(peer.id);
    if (!e0 || !e) return -1;
    const base = e0.height;
    while (e && e.height >= base) {
      const on = path[e.height - base];
      if (on && on.hash === e.hash) return e.height;
      e = e.parent;
    }
    return base - 1;
  }

  /**
   * Forgets the headers at or below the tip's height (their bodies are imported, or lost to the main chain)
   * and points the lowest ones left at the tree's entries, so walks down a branch stop at the main chain.
   */
  prune(): void {
    const height = this.chain.height;
    for (const [hash, e] of this.byHash) {
      if (e.height <= height) this.byHash.delete(hash);
      else if (e.parent && e.parent.height <= height) {
        const stored = this.chain.getEntry(e.parent.hash);
        if (stored) e.parent = stored;
      }
    }
  }

  /** Drops `entry` and every held header above it on its branch (its body broke a rule). */
  dropFrom(entry: ChainEntry): void {
    for (const [hash, e] of this.byHash) {
      let x: ChainEntry | undefined = e;
      while (x && x.height > entry.height) x = x.parent;
      if (x && x.hash === entry.hash) this.byHash.delete(hash);
    }
    for (const [id, b] of this.best) {
      let x: ChainEntry | undefined = b;
      while (x && x.height > entry.height) x = x.parent;
      if (x && x.hash === entry.hash && entry.parent) this.best.set(id, entry.parent);
    }
  }

  private raise(peer: SyncPeer, e: ChainEntry): void {
    const cur = this.best.get(peer.id);
    if (!cur || e.chainWork > cur.chainWork) this.best.set(peer.id, e);
  }

  private onMain(e: ChainEntry): boolean {
    return this.chain.getEntryAt(e.height)?.hash === e.hash;
  }
}
