import type { Application } from 'egg';
import type { ReadinessResult } from 'egg-im-protocol';

/**
 * What /readyz reports. The store is required (without it no message can be accepted);
 * the cache is not (egg-im runs degraded on the database alone). From SIGTERM on: `draining`, 503.
 */
export class Readiness {
  private draining = false;

  constructor(private readonly app: Application) {}

  markDraining(): void {
    this.draining = true;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  async evaluate(): Promise<{ httpStatus: number; body: ReadinessResult }> {
    const [store, cache] = await Promise.all([this.app.imStore.check(), this.app.imCache.check()]);
    const checks: ReadinessResult['checks'] = {
      store,
      cache,
      process: this.draining ? { ok: false, error: 'draining' } : { ok: true },
    };
    if (this.draining) return { httpStatus: 503, body: { status: 'draining', checks } };
    if (!store.ok) return { httpStatus: 503, body: { status: 'unavailable', checks } };
    return { httpStatus: 200, body: { status: cache.ok ? 'ready' : 'degraded', checks } };
  }
}
