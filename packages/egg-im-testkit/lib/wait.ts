/** Polls `probe` until it returns a truthy value or `timeoutMs` passes; returns that value. */
export async function waitFor<T>(probe: () => T | Promise<T>, timeoutMs = 5000, label = 'condition'): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value as NonNullable<T>;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const reason = lastError instanceof Error ? `: ${lastError.message}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${label}${reason}`);
    }
    await new Promise(resolve => setTimeout(resolve, 25));
  }
}

export const sleep = (ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms));
