import { ImError, type JsonObject, type SendTarget } from 'egg-im-protocol';

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
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
/** With the `u` flag a surrogate pair is one code point, so this matches lone surrogates only. */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * A user or group id as a client names it: any string of 1 to 64 characters without control characters
 * (host applications bring their own user ids, e.g. `tenant:42` or an e-mail address).
 */
export function isId(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= 64 && !LONE_SURROGATE.test(value) && !CONTROL.test(value);
}

function isPlainObject(value: unknown): value is JsonObject {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function fail(message: string, field: string): never {
  throw new ImError('VALIDATION_FAILED', message, { field });
}

/**
 * `content` and `meta` must be JSON and nothing else, so that what is stored (their JSON text) is what was
 * delivered: socket.io would carry binary attachments (Buffers) that JSON cannot, and a nesting deeper than
 * the JavaScript stack would fail in JSON.stringify as an internal error instead of a validation error.
 */
function checkJson(value: unknown, path: string, depth: number, maxDepth: number): void {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) fail(`${path} must be a finite number`, path);
      return;
    case 'object': {
      if (value === null) return;
      if (depth > maxDepth) fail(`${path.split(/[.[]/)[0]} is nested deeper than ${maxDepth} levels`, path);
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) checkJson(value[i], `${path}[${i}]`, depth + 1, maxDepth);
        return;
      }
      if (!isPlainObject(value)) fail(`${path} must hold JSON values only`, path);
      for (const key of Object.keys(value)) checkJson(value[key], `${path}.${key}`, depth + 1, maxDepth);
      return;
    }
    default:
      fail(`${path} must hold JSON values only`, path);
  }
}

/** Checks the envelope of `message:send` / `POST /im/messages`; the content is checked by its type later. */
export function validateSend(senderId: string, body: unknown, limits: SendLimits): SendCommand {
  if (!isPlainObject(body)) fail('the message must be a JSON object', 'body');
  const { to, type, content, meta = {}, clientMsgId } = body as Record<string, unknown>;
  if (!isPlainObject(to)) fail('to must be { type: "user" | "group", id }', 'to');
  if (to.type !== 'user' && to.type !== 'group') fail('to.type must be "user" or "group"', 'to.type');
  if (!isId(to.id)) fail('to.id must be a user or group id', 'to.id');
  if (typeof type !== 'string' || type.length === 0) fail('type must be a non-empty string', 'type');
  if (!isPlainObject(content)) fail('content must be a JSON object', 'content');
  if (!isPlainObject(meta)) fail('meta must be a JSON object', 'meta');
  // Well-formed: a lone surrogate would be stored as U+FFFD, so two different ids could dedupe as one.
  if (typeof clientMsgId !== 'string' || clientMsgId.length === 0 || clientMsgId.length > 64 || LONE_SURROGATE.test(clientMsgId)) {
    fail('clientMsgId must be a string of 1 to 64 characters', 'clientMsgId');
  }
  checkJson(content, 'content', 1, limits.maxDepth);
  checkJson(meta, 'meta', 1, limits.maxDepth);
  const contentJson = JSON.stringify(content);
  const metaJson = JSON.stringify(meta);
  const bytes = Buffer.byteLength(contentJson) + Buffer.byteLength(metaJson);
  if (bytes > limits.payloadBytes) {
    throw new ImError('PAYLOAD_TOO_LARGE', `content and meta are ${bytes} bytes; the limit is ${limits.payloadBytes}`, { bytes, limit: limits.payloadBytes });
  }
  return {
    senderId,
    to: { type: to.type, id: to.id },
    type,
    content,
    meta,
    clientMsgId,
    contentJson,
    metaJson,
  };
}
