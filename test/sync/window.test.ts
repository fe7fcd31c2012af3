/**
 * The download window (src/sync/window.ts) over fake fetches: no chain, no LevelDB, no libp2p. A "block" is
 * its 80-byte header (the previous block's hash at bytes 4..36) padded to a size; our chain is a list of
 * hashes that a handed-out batch extends (or, after a peer's reorg, replaces from its parent on), and a
 * fake peer serves its own block list by locator and skip, as the blocks protocol does.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { sha256d } from "../../src/consensus/hash.ts";
import { HEADER_SIZE } from "../../src/consensus/header.ts";
import type { BatchRange, FetchRange } from "../../src/sync/batch.ts";
import { SkipUnsupportedError, type SyncFault } from "../../src/sync/types.ts";
import { cutByBytes, DownloadWindow, MAX_RESTARTS, type WindowOptions } from "../../src/sync/window.ts";

const GENESIS = sha256d(new TextEncoder().encode("genesis"));
const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const hashOf = (raw: Uint8Array): Uint8Array => sha256d(raw.subarray(0, HEADER_SIZE));

/** `length` fake blocks after `parent`, `size` bytes each; `tag` tells branches apart. */
function fakeChain(length: number, parent = GENESIS, tag = 0, size = HEADER_SIZE): Uint8Array[] {
  const out: Uint8Array[] = [];
  let prev = parent;
  for (let i = 0; i < length; i++) {
    const raw = new Uint8Array(size);
    raw.set(prev, 4);
    new DataView(raw.buffer).setUint32(36, i, true);
    raw[40] = tag;
    out.push(raw);
    prev = hashOf(raw);
  }
  return out;
}

/** Our chain as the window sees it: hashes from genesis; a batch attaches to the block it follows. */
class Ours {
  hashes: Uint8Array[] = [GENESIS];
  locator = (): Uint8Array[] => [...this.hashes].reverse();
  get height(): number {
    return this.hashes.length - 1;
  }
  import(blocks: Uint8Array[]): void {
    const parent = hex(blocks[0]!.subarray(4, 36));
    const at = this.hashes.findIndex((h) => hex(h) === parent);
    assert.ok(at >= 0, "a handed-out batch attaches to our chain");
    this.hashes.length = at + 1;
    for (const b of blocks) {
      assert.equal(hex(b.subarray(4, 36)), hex(this.hashes.at(-1)!), "in height order");
      this.hashes.push(hashOf(b));
    }
  }
}

/** Up to `max` of `chain`'s blocks past the highest locator hash on it and `skip` more, within `maxBytes`. */
function serve(chain: Uint8Array[], { locator, skip, max }: BatchRange, maxBytes = Infinity): Uint8Array[] {
  const heights = new Map(chain.map((b, i) => [hex(hashOf(b)), i + 1]));
  const fork = locator.map((h) => heights.get(hex(h))).find((x) => x !== undefined) ?? 0;
  const out: Uint8Array[] = [];
  let bytes = 0;
  for (const b of chain.slice(fork + skip, fork + skip + max)) {
    if (bytes + b.length > maxBytes) break;
    bytes += b.length;
    out.push(b);
  }
  return out;
}

interface Call {
  range: BatchRange;
  signal: AbortSignal;
  answer: (blocks: Uint8Array[]) => void;
  fail: (err: unknown) => void;
}

/**
 * A fake link to one peer. `auto` answers each request on the next turn of the event loop (with `serve`
 * unless `respond` says otherwise); otherwise the test answers each call. An aborted request rejects, as
 * the real fetcher's does.
 */
function link(peer: { chain: Uint8Array[] }, auto: boolean, respond?: (range: BatchRange) => Uint8Array[]) {
  const calls: Call[] = [];
  const seen = { inFlight: 0, most: 0 };
  const fetch: FetchRange = (range, signal) =>
    new Promise<Uint8Array[]>((resolve, reject) => {
      seen.most = Math.max(seen.most, ++seen.inFlight);
      let done = false;
      // Once per request: a late answer to an aborted one is dropped, as the promise drops it.
      const settle =
        <T>(f: (v: T) => void) =>
        (v: T) => {
          if (done) return;
          done = true;
          seen.inFlight--;
          f(v);
        };
      const call = { range, signal, answer: settle(resolve), fail: settle(reject) };
      calls.push(call);
      signal.addEventListener("abort", () => call.fail(signal.reason), { once: true });
      if (auto) {
        setImmediate(() => {
          try {
            call.answer(respond ? respond(range) : serve(peer.chain, range));
          } catch (err) {
            call.fail(err);
          }
        });
      }
    });
  const serveCall = (i: number) => calls[i]!.answer(serve(peer.chain, calls[i]!.range));
  return { calls, seen, fetch, serveCall };
}

function open(ours: Ours, fetch: FetchRange, extra: Partial<WindowOptions> = {}): DownloadWindow {
  return new DownloadWindow({
    batchSize: 50,
    depth: 3,
    maxResponseBytes: Infinity,
    locator: ours.locator,
    fetch,
    signal: new AbortController().signal,
    ...extra,
  });
}

/** Runs the window to its end, importing each batch it hands out; returns the fault and the batch count. */
async function drain(
  w: DownloadWindow,
  ours: Ours,
): Promise<{ fault: SyncFault | undefined; batches: number }> {
  let batches = 0;
  for (;;) {
    const step = await w.next();
    if (step.kind === "end") return { fault: step.fault, batches };
    ours.import(step.blocks);
    batches++;
  }
}

const skips = (calls: Call[]) => calls.map((c) => [c.range.skip, c.range.max]);

describe("DownloadWindow", () => {
  it("follow mode (depth 1): one request at a time, each after the last block handed out", async () => {
    const peer = { chain: fakeChain(120) };
    const ours = new Ours();
    const { calls, seen, fetch } = link(peer, true);
    const { fault, batches } = await drain(open(ours, fetch, { depth: 1 }), ours);
    assert.equal(fault, undefined);
    assert.equal(ours.height, 120);
    assert.equal(batches, 3);
    assert.deepEqual(skips(calls), [
      [0, 50],
      [0, 50],
      [0, 50],
    ]);
    assert.equal(hex(calls[1]!.range.locator[0]!), hex(hashOf(peer.chain[49]!)));
    assert.equal(hex(calls[2]!.range.locator[0]!), hex(hashOf(peer.chain[99]!)));
    assert.equal(seen.most, 1);
  });

  it("skip mode: asks for `depth` ranges from one anchor and hands them out in height order, whatever order they answer in", async () => {
    const peer = { chain: fakeChain(230) };
    const ours = new Ours();
    const { calls, fetch, serveCall } = link(peer, false);
    const w = open(ours, fetch);
    let step = w.next();
    assert.deepEqual(skips(calls), [[0, 50]], "one request until the peer has shown it has more");
    serveCall(0);
    let got = await step;
    assert.equal(got.kind, "blocks");
    // Asked for before the caller imports the first batch, so they download while it does.
    assert.deepEqual(skips(calls).slice(1), [
      [50, 50],
      [100, 50],
      [150, 50],
    ]);
    assert.ok(
      calls.every((c) => c.range.locator === calls[0]!.range.locator),
      "one anchor",
    );
    if (got.kind === "blocks") ours.import(got.blocks);

    step = w.next();
    let handed = false;
    void step.then(() => {
      handed = true;
    });
    serveCall(3);
    serveCall(2);
    await new Promise((r) => setImmediate(r));
    assert.equal(handed, false, "later ranges wait for the one before them");
    serveCall(1);
    got = await step;
    assert.equal(got.kind === "blocks" && ours.height, 50);
    if (got.kind === "blocks") ours.import(got.blocks);
    assert.deepEqual(skips(calls).slice(4), [[200, 50]], "topped up to three in flight");
    for (const expected of [150, 200]) {
      got = await w.next();
      if (got.kind === "blocks") ours.import(got.blocks);
      assert.equal(ours.height, expected);
    }
    assert.deepEqual(skips(calls).slice(5), [
      [250, 50],
      [300, 50],
    ]);
    serveCall(4); // blocks 201..230: short of 50, so the peer's chain ends there
    got = await w.next();
    if (got.kind === "blocks") ours.import(got.blocks);
    assert.equal(ours.height, 230);
    assert.ok(calls[5]!.signal.aborted && calls[6]!.signal.aborted, "the ranges past its end are cancelled");
    assert.deepEqual(await w.next(), { kind: "end" });
  });

  it("asks for the rest of a batch cut short by the byte bound first, then fewer blocks per request", async () => {
    // Blocks of 1,000 bytes and responses bounded at 8,010: every full request comes back with 8.
    const peer = { chain: fakeChain(120, GENESIS, 0, 1000) };
    const ours = new Ours();
    const maxBytes = 8010;
    const { calls, seen, fetch } = link(peer, true, (range) => serve(peer.chain, range, maxBytes));
    const { fault } = await drain(open(ours, fetch, { maxResponseBytes: maxBytes }), ours);
    assert.equal(fault, undefined);
    assert.equal(ours.height, 120);
    assert.deepEqual(skips(calls).slice(0, 9), [
      [0, 50],
      [8, 42],
      [16, 34],
      [24, 26],
      [32, 18],
      [40, 10],
      [48, 2],
      [50, 8],
      [58, 8],
    ]);
    assert.equal(seen.most, 1, "no more than one response's bytes in flight");
  });

  it("tells a batch cut by the byte bound from the end of the peer's chain", () => {
    const blocks = [new Uint8Array(1000), new Uint8Array(1000)];
    assert.equal(cutByBytes(blocks, 2999), true, "a third block could not have fitted");
    assert.equal(cutByBytes(blocks, 3000), false);
    assert.equal(cutByBytes(blocks, Infinity), false);
  });

  it("starts again from our locator as it stands when the peer's chain moves during the download", async () => {
    const first = fakeChain(200);
    // After the first request, the peer reorganises from height 30 to a longer branch.
    const branch = [...first.slice(0, 30), ...fakeChain(200, hashOf(first[29]!), 1)];
    const peer = { chain: first };
    const ours = new Ours();
    const { calls, fetch } = link(peer, true, (range) => {
      const served = serve(peer.chain, range);
      peer.chain = branch;
      return served;
    });
    const { fault } = await drain(open(ours, fetch), ours);
    assert.equal(fault, undefined, "a peer's reorg is not a fault");
    assert.equal(hex(ours.hashes.at(-1)!), hex(hashOf(branch.at(-1)!)));
    // The restart names our tip after the first batch, and skips nothing.
    assert.deepEqual(skips(calls)[4], [0, 50]);
    assert.equal(hex(calls[4]!.range.locator[0]!), hex(hashOf(first[49]!)));
  });

  it(`ends a peer whose batches keep not following each other as out of order, after ${MAX_RESTARTS} restarts`, async () => {
    const chain = fakeChain(50);
    const ours = new Ours();
    // The same 50 blocks whatever is asked: each restart accepts them once more, then the next range breaks.
    const { fetch } = link({ chain }, true, () => chain);
    const { fault, batches } = await drain(open(ours, fetch), ours);
    assert.deepEqual(fault, { kind: "out-of-order" });
    assert.equal(batches, MAX_RESTARTS + 1);
  });

  it("falls back to follow mode for a peer that cannot skip, cancelling its skip requests", async () => {
    const peer = { chain: fakeChain(160) };
    const ours = new Ours();
    const { calls, fetch } = link(peer, true, (range) => {
      if (range.skip > 0) throw new SkipUnsupportedError("old");
      return serve(peer.chain, range);
    });
    const { fault } = await drain(open(ours, fetch), ours);
    assert.equal(fault, undefined);
    assert.equal(ours.height, 160);
    assert.deepEqual(skips(calls).slice(4), [
      [0, 50],
      [0, 50],
      [0, 50],
    ]);
    assert.equal(hex(calls[4]!.range.locator[0]!), hex(hashOf(peer.chain[49]!)), "after the last batch");
    assert.ok(calls[3]!.signal.aborted, "the skip requests behind the refused one are cancelled");
  });

  it("a refused skip before any batch arrived is the peer's fault, as any failed request", async () => {
    const refusal = new SkipUnsupportedError("odd");
    const { fetch } = link({ chain: [] }, true, () => {
      throw refusal;
    });
    const ours = new Ours();
    assert.deepEqual(await drain(open(ours, fetch), ours), {
      fault: { kind: "fetch-failed", error: refusal },
      batches: 0,
    });
  });

  it("ends on a failed request with its error and cancels the requests after it", async () => {
    const peer = { chain: fakeChain(300) };
    const ours = new Ours();
    const { calls, fetch, serveCall } = link(peer, false);
    const w = open(ours, fetch);
    const step = w.next();
    serveCall(0);
    await step;
    const reset = new Error("connection reset");
    const next = w.next();
    calls[1]!.fail(reset);
    assert.deepEqual(await next, { kind: "end", fault: { kind: "fetch-failed", error: reset } });
    assert.ok(calls[2]!.signal.aborted && calls[3]!.signal.aborted);
    assert.equal(w.pending.length, 0);
  });

  it("ends without fault when sync stops, aborting every request in flight", async () => {
    const peer = { chain: fakeChain(300) };
    const ours = new Ours();
    const stop = new AbortController();
    const { calls, fetch, serveCall } = link(peer, false);
    const w = open(ours, fetch, { signal: stop.signal });
    const step = w.next();
    serveCall(0);
    await step;
    const next = w.next();
    stop.abort();
    assert.deepEqual(await next, { kind: "end" });
    assert.ok(calls.slice(1).every((c) => c.signal.aborted));
  });

  it("ends without fault on an empty answer", async () => {
    const ours = new Ours();
    const { calls, fetch } = link({ chain: [] }, true);
    assert.deepEqual(await drain(open(ours, fetch), ours), { fault: undefined, batches: 0 });
    assert.equal(calls.length, 1);
  });

  it("close() cancels every batch not yet handed out", async () => {
    const peer = { chain: fakeChain(300) };
    const ours = new Ours();
    const { calls, fetch, serveCall } = link(peer, false);
    const w = open(ours, fetch);
    const step = w.next();
    serveCall(0);
    await step;
    assert.deepEqual(
      w.pending.map((b) => b.status),
      ["downloading", "downloading", "downloading"],
    );
    const held = [...w.pending];
    w.close();
    assert.deepEqual(
      held.map((b) => b.status),
      ["cancelled", "cancelled", "cancelled"],
    );
    assert.ok(calls.slice(1).every((c) => c.signal.aborted));
    assert.deepEqual(await w.next(), { kind: "end" });
  });
});
