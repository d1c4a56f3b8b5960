import * as parser from 'socket.io-parser';
import { knownJson } from 'egg-im-protocol';

/**
 * socket.io's encoder, writing a message that was encoded once (`jsonOnce` of egg-im-protocol) as that text:
 * the ack of a send and every push of it (to each device, each retry) are made without walking the message
 * again, neither to look for binary nor to stringify it. The frames are exactly the default encoder's: a client
 * decodes them with socket.io's own parser.
 *
 * Only the shapes egg-im sends take the short way: the arguments of an event or an ack, each either JSON text
 * kept by `jsonOnce`, a primitive, or a plain object whose values are (the ack `{ ok: true, message }`). Any
 * other packet, and one with nothing encoded once in it, goes to the default encoder unchanged.
 */
export class OnceEncoder extends parser.Encoder {
  override encode(packet: parser.Packet): Array<string | Buffer> {
    if ((packet.type === parser.PacketType.EVENT || packet.type === parser.PacketType.ACK) && Array.isArray(packet.data)) {
      const data = encodeArgs(packet.data);
      if (data !== undefined) return [ head(packet) + data ];
    }
    return super.encode(packet);
  }
}

/** socket.io's parser with this encoder: the `parser` option of the server. */
export const onceParser = { ...parser, Encoder: OnceEncoder };

function head({ type, nsp, id }: parser.Packet): string {
  let text = String(type);
  if (nsp && nsp !== '/') text += `${nsp},`;
  if (id !== undefined && id !== null) text += id;
  return text;
}

/** `JSON.stringify(args)` when an argument was encoded once and every argument has a shape taken here. */
function encodeArgs(args: unknown[]): string | undefined {
  let once = false;
  const parts: string[] = [];
  for (const arg of args) {
    const known = knownJson(arg);
    if (known !== undefined) {
      once = true;
      parts.push(known);
    } else if (isPrimitive(arg)) {
      parts.push(arg === undefined ? 'null' : JSON.stringify(arg));
    } else if (isPlainObject(arg)) {
      const object = encodeObject(arg);
      if (object === undefined) return undefined;
      once ||= object.once;
      parts.push(object.text);
    } else {
      return undefined;
    }
  }
  return once ? `[${parts.join(',')}]` : undefined;
}

function encodeObject(object: Record<string, unknown>): { text: string; once: boolean } | undefined {
  const keys = Object.keys(object);
  let once = false;
  const parts: string[] = [];
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    const value = object[key];
    const known = knownJson(value);
    if (known !== undefined) {
      once = true;
      parts.push(`${JSON.stringify(key)}:${known}`);
    } else if (isPrimitive(value)) {
      // as JSON.stringify does: a property whose value is undefined is left out
      if (value !== undefined) parts.push(`${JSON.stringify(key)}:${JSON.stringify(value)}`);
    } else if ((once || carriesOnceFrom(object, keys, i + 1)) && isSmallPlainJson(value, 2)) {
      // e.g. the cursors beside a message in an ack: no binary in it, so JSON.stringify writes what socket.io would.
      // Only an object that carries a message encoded once is worth more than a look (a group's cursors are not).
      parts.push(`${JSON.stringify(key)}:${JSON.stringify(value)}`);
    } else {
      return undefined;
    }
  }
  return { text: `{${parts.join(',')}}`, once };
}

/** Whether one of `keys` from `from` on holds a value encoded once. */
function carriesOnceFrom(object: Record<string, unknown>, keys: string[], from: number): boolean {
  for (let i = from; i < keys.length; i++) if (knownJson(object[keys[i]]) !== undefined) return true;
  return false;
}

/** Arrays and plain objects, `depth` levels at most, of strings, numbers, booleans and null only. */
function isSmallPlainJson(value: unknown, depth: number): boolean {
  if (depth < 0) return false;
  const values = Array.isArray(value) ? value : isPlainObject(value) ? Object.values(value) : undefined;
  if (!values) return false;
  return values.every(item => (item !== undefined && isPrimitive(item)) || isSmallPlainJson(item, depth - 1));
}

function isPrimitive(value: unknown): value is string | number | boolean | null | undefined {
  const type = typeof value;
  return value === null || type === 'string' || type === 'number' || type === 'boolean' || type === 'undefined';
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
