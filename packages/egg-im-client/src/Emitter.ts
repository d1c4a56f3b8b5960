type Listener = (...args: any[]) => void;
type EventMap<E> = { [K in keyof E]: Listener };

/**
 * A tiny typed event emitter (no Node `events`, so the client bundles for browsers).
 * A listener that throws does not stop the others: its error goes to the `error` listeners,
 * or, when there are none, is rethrown asynchronously so it is never swallowed.
 */
export class Emitter<E extends EventMap<E>> {
  readonly #listeners = new Map<keyof E, Set<Listener>>();

  on<K extends keyof E>(event: K, listener: E[K]): this {
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, set = new Set());
    set.add(listener);
    return this;
  }

  once<K extends keyof E>(event: K, listener: E[K]): this {
    const wrapper = ((...args: Parameters<E[K]>) => {
      this.off(event, wrapper);
      listener(...args);
    }) as E[K];
    return this.on(event, wrapper);
  }

  off<K extends keyof E>(event: K, listener?: E[K]): this {
    if (listener === undefined) this.#listeners.delete(event);
    else this.#listeners.get(event)?.delete(listener);
    return this;
  }

  listenerCount(event: keyof E): number {
    return this.#listeners.get(event)?.size ?? 0;
  }

  protected emit<K extends keyof E>(event: K, ...args: Parameters<E[K]>): void {
    const set = this.#listeners.get(event);
    if (!set) return;
    for (const listener of [ ...set ]) {
      try {
        listener(...args);
      } catch (err) {
        this.listenerFailed(event, err);
      }
    }
  }

  /** Where a listener's error goes; `ImClient` turns it into an `error` event. */
  protected listenerFailed(_event: keyof E, err: unknown): void {
    setTimeout(() => { throw err; }, 0);
  }
}
