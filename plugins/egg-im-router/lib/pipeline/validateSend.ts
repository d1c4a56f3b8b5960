import { checkId, ImError, isId, type JsonObject, type SendTarget } from 'egg-im-protocol';

/** A send request that passed envelope validation; `contentJson`/`metaJson` are what gets stored. */
export interface SendCommand {
  senderId: string;
  to: SendTarget;
  type: string;
  content: JsonObject;
  meta: JsonObject;
  clientMsgId: string;
  contentJson: string;
  metaJson: string;
}

export interface SendLimits {
  /** Largest `content` + `meta`, in bytes of JSON. */
  payloadBytes: number;
  /** Deepest nesting of objects and arrays in `content` or `meta` (the object itself is level 1). */
  maxDepth: number;
  /** Most JSON values (objects, arrays, strings, numbers, ...) in `content` and `meta` together. */
  maxValues: number;
}

/** The grammar of message type names, as the registry accepts them: checked before the name is looked up or echoed. */
export const TYPE_NAME = /^[a-z][a-z0-9_.:-]{0,63}$/i;
export const CLIENT_MSG_ID_MAX_LENGTH = 64;

export function isPlainObject(value: unknown): value is JsonObject {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Beyond this many characters a field's path is not extended (its deeper parts show as one "…"). */
const MAX_FIELD_PATH = 256;

/** The path of a value inside `path`: bounded, since the keys and the nesting are the client's. */
function childPath(path: string, part: string): string {
  if (path.length < MAX_FIELD_PATH) return `${path}${part}`;
  return path.endsWith('…') ? path : `${path}…`;
}

function fail(message: string, field: string): never {
  throw new ImError('VALIDATION_FAILED', message, { field });
}

/**
 * `content` and `meta` must be JSON and nothing else, so that what is stored (their JSON text) is what was
 * delivered: socket.io would carry binary attachments (Buffers) that JSON cannot, and a nesting deeper than
 * the JavaScript stack would fail in JSON.stringify as an internal error instead of a validation error.
 * The walk stops at the first problem and after `maxValues` values, so its cost is bounded by the limits,
 * not by what a client sends; later checks (the type's own validation) only see messages that passed it.
 */
class JsonCheck {
  private values = 0;

  constructor(private readonly limits: SendLimits) {}

  check(value: unknown, path: string, depth: number): void {
    if (++this.values > this.limits.maxValues) {
      throw new ImError('PAYLOAD_TOO_LARGE', `content and meta hold more than ${this.limits.maxValues} values`, { field: path, limit: this.limits.maxValues });
    }
    switch (typeof value) {
      case 'string':
      case 'boolean':
        return;
      case 'number':
        if (!Number.isFinite(value)) fail(`${path} must be a finite number`, path);
        return;
      case 'object': {
        if (value === null) return;
        if (depth > this.limits.maxDepth) fail(`${path.split(/[.[]/)[0]} is nested deeper than ${this.limits.maxDepth} levels`, path);
        if (Array.isArray(value)) {
          for (let i = 0; i < value.length; i++) this.check(value[i], childPath(path, `[${i}]`), depth + 1);
          return;
        }
        if (!isPlainObject(value)) fail(`${path} must hold JSON values only`, path);
        for (const key of Object.keys(value)) {
          // JSON.parse makes "__proto__" an own key; merged into an object later it would set its prototype.
          // Refused here for every transport alike (the HTTP body parser refuses it too).
          if (key === '__proto__') fail(`${path} must not hold a "__proto__" key`, path);
          this.check(value[key], childPath(path, `.${key.length > 64 ? `${key.slice(0, 64)}…` : key}`), depth + 1);
        }
        return;
      }
      default:
        fail(`${path} must hold JSON values only`, path);
    }
  }
}

/** Checks the envelope of `message:send` / `POST /im/messages`; the content is checked by its type later. */
export function validateSend(senderId: string, body: unknown, limits: SendLimits): SendCommand {
  if (!isPlainObject(body)) fail('the message must be a JSON object', 'body');
  const { to, type, content, meta = {}, clientMsgId } = body as Record<string, unknown>;
  if (!isPlainObject(to)) fail('to must be { type: "user" | "group", id }', 'to');
  if (to.type !== 'user' && to.type !== 'group') fail('to.type must be "user" or "group"', 'to.type');
  const toId = checkId(to.id, 'to.id');
  if (typeof type !== 'string' || !TYPE_NAME.test(type)) fail('type must be a message type name (a letter, then up to 63 letters, digits, "_", ".", ":" or "-")', 'type');
  if (!isPlainObject(content)) fail('content must be a JSON object', 'content');
  if (!isPlainObject(meta)) fail('meta must be a JSON object', 'meta');
  // The id grammar, shorter: a lone surrogate would be stored as U+FFFD and a padded id compared equal by
  // some databases, so two different ids could dedupe as one.
  if (!isId(clientMsgId) || clientMsgId.length > CLIENT_MSG_ID_MAX_LENGTH) {
    fail(`clientMsgId must be an id of 1 to ${CLIENT_MSG_ID_MAX_LENGTH} characters, without control characters or surrounding spaces`, 'clientMsgId');
  }
  return { senderId, to: { type: to.type, id: toId }, type, clientMsgId, ...checkPayload(content, meta, limits) };
}

/** The command with new `content` and `meta` (a `beforeSend` hook's), checked by the same rules as a client's. */
export function withPayload(command: SendCommand, content: unknown, meta: unknown, limits: SendLimits): SendCommand {
  if (!isPlainObject(content)) fail('content must be a JSON object', 'content');
  if (!isPlainObject(meta)) fail('meta must be a JSON object', 'meta');
  return { ...command, ...checkPayload(content, meta, limits) };
}

function checkPayload(content: JsonObject, meta: JsonObject, limits: SendLimits): Pick<SendCommand, 'content' | 'meta' | 'contentJson' | 'metaJson'> {
  const json = new JsonCheck(limits);
  json.check(content, 'content', 1);
  json.check(meta, 'meta', 1);
  const contentJson = JSON.stringify(content);
  const metaJson = JSON.stringify(meta);
  const bytes = Buffer.byteLength(contentJson) + Buffer.byteLength(metaJson);
  if (bytes > limits.payloadBytes) {
    throw new ImError('PAYLOAD_TOO_LARGE', `content and meta are ${bytes} bytes; the limit is ${limits.payloadBytes}`, { bytes, limit: limits.payloadBytes });
  }
  return { content, meta, contentJson, metaJson };
}
