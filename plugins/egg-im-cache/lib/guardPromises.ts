/**
 * The socket.io Redis adapter calls its clients' commands (publish, subscribe, ...) without handling the
 * promises they return. While Redis is down those promises reject (a full offline queue, a client destroyed
 * on shutdown) and would surface as unhandled rejections. This proxy gives every such promise a handler
 * that reports the error; the adapter still receives the same promise.
 */
export function guardPromises<T extends object>(client: T, onError: (err: Error) => void): T {
  return new Proxy(client, {
    get(target, property) {
      const value = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const result = value.apply(target, args);
        if (result && typeof (result as Promise<unknown>).catch === 'function') (result as Promise<unknown>).catch(onError);
        return result;
      };
    },
  });
}
