/**
 * A token bucket: `capacity` tokens, refilled continuously at `ratePerSec`, never above capacity. The one
 * rate limiter of the node: block requests served and paced, cosignature and record gossip per peer, record
 * submissions per HTTP client.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly capacity: number,
    private readonly ratePerSec: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = capacity;
    this.last = this.now();
  }

  private refill(): void {
    const t = this.now();
    // A clock that steps back (Date.now under NTP) refills nothing rather than draining the bucket.
    this.tokens = Math.min(
      this.capacity,
      this.tokens + (Math.max(0, t - this.last) * this.ratePerSec) / 1000,
    );
    this.last = t;
  }

  /** Whether `n` tokens are there now (spends nothing). */
  has(n = 1): boolean {
    this.refill();
    return this.tokens >= n;
  }

  /** Takes `n` tokens if they are all there; takes nothing otherwise. */
  take(n = 1): boolean {
    if (!this.has(n)) return false;
    this.tokens -= n;
    return true;
  }

  /** Milliseconds until `n` tokens will be there (0 if they are now). */
  waitMs(n = 1): number {
    this.refill();
    return this.tokens >= n ? 0 : Math.ceil(((n - this.tokens) * 1000) / this.ratePerSec);
  }
}
