/** A rate: `burst` at once, refilled at `perSecond` (a connection's events; a user's requests, `UserRate`). */
export class TokenBucket {
  private tokens: number;
  private last = Date.now();

  constructor(private readonly burst: number, private readonly perSecond: number) {
    this.tokens = burst;
  }

  /** Takes one token; returns 0 when allowed, else how many ms until one is available. */
  take(now = Date.now()): number {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.perSecond);
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.tokens) / this.perSecond) * 1000);
  }
}
