/**
 * A message is encoded once. Its JSON text is made when it is committed (or read, or received from another
 * node) and kept beside it; every encoder that sends it afterwards (socket.io's, for the ack and each push; the
 * hot-history window; the packets to the other nodes) writes that text instead of walking the object again.
 * Node 20's `JSON.stringify` cannot take ready-made JSON text, so the encoders ask for it here.
 *
 * The text is kept on the object itself, under a symbol that is not enumerable (`JSON.stringify`, `Object.keys`,
 * spreads and `deepStrictEqual` do not see it): a `WeakMap` did the same, but its entries made every young-generation
 * GC of a busy worker longer. A value given to `jsonOnce` is immutable from then on: its text is what it is sent
 * as, however it changes (a copy made by spreading it carries no text).
 */
const JSON_TEXT = Symbol('egg-im-protocol.json');

type WithText = { [JSON_TEXT]?: string };

/** The JSON text of `value`, made now (or taken as `json`, its text already made) and kept for every later encoder. */
export function jsonOnce(value: object, json?: string): string {
  const kept = (value as WithText)[JSON_TEXT];
  if (kept !== undefined) return kept;
  const text = json ?? JSON.stringify(value);
  // A frozen or sealed value cannot keep it: it is encoded again by each encoder, as any other value.
  if (Object.isExtensible(value)) Object.defineProperty(value, JSON_TEXT, { value: text });
  return text;
}

/** The text `jsonOnce` kept for `value`, or undefined when it has none. */
export function knownJson(value: unknown): string | undefined {
  return typeof value === 'object' && value !== null ? (value as WithText)[JSON_TEXT] : undefined;
}

/** A message's object from its JSON text (from another node, or a store), which is kept as its encoding. */
export function parseOnce<T extends object>(json: string): T {
  const value = JSON.parse(json) as T;
  jsonOnce(value, json);
  return value;
}
