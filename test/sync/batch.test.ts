/**
 * One batch's life (src/sync/batch.ts) over fake fetches: no chain, no network.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Batch, type BatchRange, BatchStatusError, type FetchRange } from "../../src/sync/batch.ts";

const RANGE: BatchRange = { locator: [new Uint8Array(32)], skip: 50, max: 50 };

/** A fetch the test answers by hand, keeping the signal it was given. */
function handFetch() {
  const calls: Array<{ range: BatchRange; signal: AbortSignal }> = [];
  let answer: (blocks: Uint8Array[]) => void = () => {};
  let fail: (err: unknown) => void = () => {};
  const fetch: FetchRange = (range, signal) => {
    calls.push({ range, signal });
    return new Promise((resolve, reject) => {
      answer = resolve;
      fail = reject;
    });
  };
  return { calls, fetch, answer: (b: Uint8Array[]) => answer(b), fail: (e: unknown) => fail(e) };
}

describe("Batch", () => {
  it("goes queued → downloading → downloaded, with the blocks of its answer", async () => {
    const link = handFetch();
    const batch = new Batch(RANGE);
    assert.equal(batch.status, "queued");
    batch.start(link.fetch, new AbortController().signal);
    assert.equal(batch.status, "downloading");
    assert.equal(link.calls.length, 1);
    assert.equal(link.calls[0]!.range, RANGE, "the request asks for the batch's range");
    const blocks = [new Uint8Array([1]), new Uint8Array([2])];
    link.answer(blocks);
    const state = await batch.settled();
    assert.equal(state.status, "downloaded");
    assert.deepEqual(state.status === "downloaded" ? state.blocks : undefined, blocks);
    assert.equal(batch.status, "downloaded");
  });

  it("refuses to start twice: a bug in sync, not the peer's doing", () => {
    const link = handFetch();
    const batch = new Batch(RANGE);
    batch.start(link.fetch, new AbortController().signal);
    assert.throws(
      () => batch.start(link.fetch, new AbortController().signal),
      (err: unknown) =>
        err instanceof BatchStatusError &&
        err.code === "BATCH_STATUS" &&
        err.penalty === 0 &&
        err.expected === "queued" &&
        err.actual === "downloading",
    );
    assert.equal(link.calls.length, 1, "no second request");
  });

  it("fails with the request's error, also when the fetcher throws before returning a promise", async () => {
    const link = handFetch();
    const batch = new Batch(RANGE);
    batch.start(link.fetch, new AbortController().signal);
    const reset = new Error("connection reset");
    link.fail(reset);
    assert.deepEqual(await batch.settled(), { status: "failed", error: reset });

    const eager = new Batch(RANGE);
    const thrown = new Error("no stream");
    eager.start(() => {
      throw thrown;
    }, new AbortController().signal);
    assert.deepEqual(await eager.settled(), { status: "failed", error: thrown });
  });

  it("cancel aborts the request in flight, and its late answer is dropped", async () => {
    const link = handFetch();
    const batch = new Batch(RANGE);
    batch.start(link.fetch, new AbortController().signal);
    batch.cancel();
    assert.equal(batch.status, "cancelled");
    assert.equal(link.calls[0]!.signal.aborted, true);
    link.answer([new Uint8Array([1])]);
    assert.equal((await batch.settled()).status, "cancelled");
  });

  it("cancel of a queued batch sends nothing; a settled batch keeps its state", async () => {
    const link = handFetch();
    const queued = new Batch(RANGE);
    queued.cancel();
    assert.equal(queued.status, "cancelled");
    assert.throws(() => queued.start(link.fetch, new AbortController().signal), BatchStatusError);
    assert.equal(link.calls.length, 0);

    const done = new Batch(RANGE);
    done.start(link.fetch, new AbortController().signal);
    link.answer([]);
    await done.settled();
    done.cancel();
    assert.equal(done.status, "downloaded");
  });

  it("the stop signal aborts the request too", () => {
    const link = handFetch();
    const stop = new AbortController();
    new Batch(RANGE).start(link.fetch, stop.signal);
    assert.equal(link.calls[0]!.signal.aborted, false);
    stop.abort();
    assert.equal(link.calls[0]!.signal.aborted, true);
  });
});
