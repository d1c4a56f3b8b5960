import type { Application } from 'egg';
import type { ReadinessResult } from 'egg-im-protocol';

/**
 * What /readyz reports. The store is required (without it no message can be accepted);
 * the cache is not (egg-im runs degraded on the database alone).
 */
export class Readiness {
  private shuttingDown = false;

  constructor(private readonly app: Application) {}

  markShuttingDown(): void {
    this.shuttingDown = true;
  }

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  async evaluate(): Promise<{ httpStatus: number; body: ReadinessResult }> {
    const [store, cache] = await Promise.all([this.app.imStore.check(), this.app.imCache.check()]);
    const checks: ReadinessResult['checks'] = {
      store,
      cache,
      process: this.shuttingDown ? { ok: false, error: 'shutting down' } : { ok: true },
    };
    if (this.shuttingDown || !store.ok) {
      return { httpStatus: 503, body: { status: 'unavailable', checks } };
    }
    return { httpStatus: 200, body: { status: cache.ok ? 'ready' : 'degraded', checks } };
  }
}
