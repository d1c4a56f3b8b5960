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
}

const ID = /^[A-Za-z0-9_.:-]{1,64}$/;

function isPlainObject(value: unknown): value is JsonObject {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function fail(message: string, field: string): never {
  throw new ImError('VALIDATION_FAILED', message, { field });
}

/** Checks the envelope of `message:send` / `POST /im/messages`; the content is checked by its type later. */
export function validateSend(senderId: string, body: unknown, limits: SendLimits): SendCommand {
  if (!isPlainObject(body)) fail('the message must be a JSON object', 'body');
  const { to, type, content, meta = {}, clientMsgId } = body as Record<string, unknown>;
  if (!isPlainObject(to)) fail('to must be { type: "user" | "group", id }', 'to');
  if (to.type !== 'user' && to.type !== 'group') fail('to.type must be "user" or "group"', 'to.type');
  if (typeof to.id !== 'string' || !ID.test(to.id)) fail('to.id must be a user or group id', 'to.id');
  if (typeof type !== 'string' || type.length === 0) fail('type must be a non-empty string', 'type');
  if (!isPlainObject(content)) fail('content must be a JSON object', 'content');
  if (!isPlainObject(meta)) fail('meta must be a JSON object', 'meta');
  if (typeof clientMsgId !== 'string' || clientMsgId.length === 0 || clientMsgId.length > 64) {
    fail('clientMsgId must be a string of 1 to 64 characters', 'clientMsgId');
  }
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
