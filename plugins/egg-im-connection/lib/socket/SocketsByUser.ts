/**
 * Values by socket id, also reachable by their user: what one user has on this node is found without a scan
 * (a handshake counts the user's sockets; at 10,000 sockets a scan per handshake made connecting quadratic).
 */
export class SocketsByUser<V> {
  private readonly bySocket = new Map<string, V>();
  private readonly byUser = new Map<string, Map<string, V>>();
  private readonly none: ReadonlyMap<string, V> = new Map();

  constructor(private readonly userOf: (value: V) => string) {}

  get(socketId: string): V | undefined {
    return this.bySocket.get(socketId);
  }

  set(socketId: string, value: V): void {
    this.delete(socketId);
    this.bySocket.set(socketId, value);
    const userId = this.userOf(value);
    let sockets = this.byUser.get(userId);
    if (!sockets) this.byUser.set(userId, sockets = new Map());
    sockets.set(socketId, value);
  }

  delete(socketId: string): boolean {
    const value = this.bySocket.get(socketId);
    if (value === undefined) return false;
    this.bySocket.delete(socketId);
    const userId = this.userOf(value);
    const sockets = this.byUser.get(userId);
    sockets?.delete(socketId);
    if (sockets?.size === 0) this.byUser.delete(userId);
    return true;
  }

  /** The user's sockets here: socket id → value (empty when none). */
  ofUser(userId: string): ReadonlyMap<string, V> {
    return this.byUser.get(userId) ?? this.none;
  }

  /** The users with at least one socket here. */
  users(): IterableIterator<string> {
    return this.byUser.keys();
  }

  clear(): void {
    this.bySocket.clear();
    this.byUser.clear();
  }

  /** Socket id → value, like a Map (deleting the current one while iterating is fine, as with a Map). */
  [Symbol.iterator](): IterableIterator<[ string, V ]> {
    return this.bySocket.entries();
  }

  values(): IterableIterator<V> {
    return this.bySocket.values();
  }
}
