/**
 * One block request of a sync's download window, as a small state machine (Lodestar's sync/range/batch.ts):
 *
 *   queued ──start──▶ downloading ──answer──▶ downloaded
 *      │                   │       └─error──▶ failed
 *      └──────cancel───────┴────────────────▶ cancelled
 *
 * A batch is planned (queued) apart from being sent (start), so what to ask for and whom to ask are
 * separate decisions: today every queued batch goes to the one peer at once; a scheduler over several peers
 * can send it later, to a peer with room. The batch owns its request's AbortController, so cancelling a
 * batch is one call whoever sent it. A transition from the wrong status is a bug in sync and throws.
 */

/** What one request asks for: up to `max` blocks, `skip` past the fork point of `locator` on the peer's main chain. */
export interface BatchRange {
  readonly locator: Uint8Array[];
  readonly skip: number;
  readonly max: number;
}

/** Sends one batch's request (FetchBlocks bound to a peer); `signal` aborts it. */
export type FetchRange = (range: BatchRange, signal: AbortSignal) => Promise<Uint8Array[]>;

/** Where a batch stands; only `downloading` has a request in flight. */
export type BatchState =
  | { readonly status: "queued" }
  | { readonly status: "downloading"; readonly cancel: AbortController; readonly answered: Promise<void> }
  | { readonly status: "downloaded"; readonly blocks: Uint8Array[] }
  | { readonly status: "failed"; readonly error: unknown }
  | { readonly status: "cancelled" };

/** A batch's status. */
export type BatchStatus = BatchState["status"];

/** A batch asked to move from a status it is not in: a bug in sync, never the peer's doing (no penalty). */
export class BatchStatusError extends Error {
  readonly code = "BATCH_STATUS";
  readonly penalty = 0;
  constructor(
    readonly expected: BatchStatus,
    readonly actual: BatchStatus,
  ) {
    super(`batch is ${actual}, expected ${expected}`);
    this.name = "BatchStatusError";
  }
}

/** One range of blocks to download, and where its request stands. */
export class Batch {
  private current: BatchState = { status: "queued" };

  constructor(readonly range: BatchRange) {}

  /** The batch's state (its blocks once downloaded, the error once failed). */
  get state(): BatchState {
    return this.current;
  }

  /** The batch's status. */
  get status(): BatchStatus {
    return this.current.status;
  }

  /**
   * queued → downloading: sends the request through `fetch`, aborted by `stop` or by cancel(). Its answer
   * moves the batch to downloaded or failed, unless it was cancelled first. Throws BatchStatusError unless queued.
   */
  start(fetch: FetchRange, stop: AbortSignal): void {
    if (this.current.status !== "queued") throw new BatchStatusError("queued", this.current.status);
    const cancel = new AbortController();
    let response: Promise<Uint8Array[]>;
    try {
      response = fetch(this.range, AbortSignal.any([cancel.signal, stop]));
    } catch (error) {
      response = Promise.reject(error); // a fetcher that throws before its promise fails the same way
    }
    // Both outcomes are handled here, so an abandoned request never becomes an unhandled rejection.
    const answered = response.then(
      (blocks) => this.settle({ status: "downloaded", blocks }),
      (error: unknown) => this.settle({ status: "failed", error }),
    );
    this.current = { status: "downloading", cancel, answered };
  }

  /** Resolves with the state once the request has answered (at once if none is in flight). */
  async settled(): Promise<BatchState> {
    if (this.current.status === "downloading") await this.current.answered;
    return this.current;
  }

  /** queued or downloading → cancelled, aborting the request in flight; a settled batch keeps its state. */
  cancel(): void {
    const state = this.current;
    if (state.status !== "queued" && state.status !== "downloading") return;
    this.current = { status: "cancelled" };
    if (state.status === "downloading") state.cancel.abort();
  }

  /** downloading → downloaded or failed; an answer to a cancelled request is dropped. */
  private settle(next: BatchState): void {
    if (this.current.status === "downloading") this.current = next;
  }
}
