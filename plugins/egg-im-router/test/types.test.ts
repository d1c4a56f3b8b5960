import assert from 'node:assert';
import { request } from 'egg-im-testkit';
import { arrival, Harness, payloadOf, type Socket, type TestLogin, type WireMessage } from './support/harness';

/** Everything JSON can carry, in awkward shapes: it must come back with the same keys, order, values and unicode. */
const AWKWARD = {
  zeta: 'last letter first',
  alpha: { nested: { deeper: { deepest: [ 1, [ 2, [ 3, [ 4, { five: 5 } ] ] ] ] } } },
  '10': 'integer-like keys', '2': 'are ordered by JavaScript itself, on both ends',
  emoji: '👩‍👩‍👧‍👦 🏳️‍🌈 👍🏽 🇯🇵',
  cjk: '中文 日本語 한국어 𠜎𠜱',
  rtl: 'שלום עולם مرحبا بالعالم',
  combining: 'e\u0301 a\u0308 \u1100\u1161\u11a8 Z\u0351\u0352',
  controls: 'nul:\u0000 bell:\u0007 esc:\u001b del:\u007f',
  separators: 'line\u2028para\u2029bom\ufeffzwj\u200d',
  lone: 'high \ud83d alone, low \ude00 alone',
  escapes: 'quote " backslash \\ slash / newline \n tab \t',
  keys: { 'ключ': 1, '鍵': 2, '🔑': 3, '': 'empty key', ' ': 'space key', 'a.b': 'dot', 'a[0]': 'bracket' },
  numbers: [ 0, 1, -1, 1.5, -273.15, 1e21, 1e-7, 1.7976931348623157e308, 5e-324, 9007199254740991, -9007199254740991, 0.1 ],
  nulls: [ null, { value: null }, [ null ] ],
  booleans: [ true, false ],
  empties: { object: {}, array: [], string: '' },
  mixed: [ 'a', 1, true, null, { b: [ {} ] }, [ [] ] ],
};

function nested(levels: number, key = 'down'): any {
  let value: any = { leaf: 'bottom' };
  for (let i = 1; i < levels; i++) value = { [key]: value };
  return value;
}

/** Emits a socket.io event whose payload is given as JSON text (an EVENT packet with an ack id), resolving with the ack. */
function rawEmit(socket: Socket, event: string, json: string): Promise<any> {
  const client = socket as unknown as { ids: number; acks: Record<number, (reply: unknown) => void>; io: { engine: { write(data: string): void } } };
  const id = client.ids++;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ack for ${event}`)), 5000);
    client.acks[id] = reply => { clearTimeout(timer); resolve(reply); };
    client.io.engine.write(`2${id}${JSON.stringify([ event ]).slice(0, -1)},${json}]`);
  });
}

describe('egg-im-router: custom message types (by config) and exact round trips', () => {
  const h = new Harness('messaging');
  let alice: TestLogin;
  let bob: TestLogin;
  let a: Socket;
  let b: Socket;
  let bobInbox: WireMessage[];
  before(async () => {
    await h.start();
    alice = await h.user('alice');
    bob = await h.user('bob');
    a = await h.socket(alice);
    ({ socket: b, inbox: bobInbox } = await h.online(bob));
  });
  after(() => h.close());

  const toBob = () => ({ type: 'user' as const, id: bob.userId });

  /** Sends, then reads the message back through the ack, the push, history and sync: all four equal to what was sent. */
  async function roundTrip(type: string, content: any, meta?: any): Promise<WireMessage> {
    const body: any = { to: toBob(), type, content, clientMsgId: h.clientMsgId() };
    if (meta !== undefined) body.meta = meta;
    const ack = await h.send(a, body);
    assert.equal(ack.ok, true, JSON.stringify(ack.error));
    const sent = JSON.stringify({ type, content, meta: meta ?? {} });
    const pushed = await arrival(bobInbox, ack.message.id);
    const page = (await h.get(`/im/conversations/${encodeURIComponent(ack.message.conversationId)}/messages?afterSeq=${ack.message.seq - 1}&limit=1`, bob.token).expect(200)).body;
    const synced = (await request(b, 'sync', { cursors: { [ack.message.conversationId]: ack.message.seq - 1 }, limit: 1 })).messages[0];
    for (const [ via, message ] of [ [ 'ack', ack.message ], [ 'push', pushed ], [ 'history', page.messages[0] ], [ 'sync', synced ] ] as const) {
      assert.deepStrictEqual(message.content, content, `content via ${via}`);
      assert.deepStrictEqual(message.meta, meta ?? {}, `meta via ${via}`);
      assert.equal(payloadOf(message), sent, `key order via ${via}`);
      assert.deepStrictEqual(message, ack.message, `the whole message via ${via}`);
    }
    return ack.message;
  }

  it('the registry holds text and the configured types', () => {
    assert.deepStrictEqual([ ...h.app.im.messageTypes.keys() ].sort(), [ 'blob', 'location', 'order', 'text' ]);
  });

  it('valid custom content is accepted, stored and delivered exactly as sent (extra keys kept, nothing converted)', async () => {
    await roundTrip('location', { lng: 2.35, lat: 48.85, name: 'Paris', extra: { kept: [ 'as', 'sent' ] } });
    await roundTrip('order', {
      shipTo: { point: { lat: -33.9, lng: 18.4 }, city: 'Cape Town', unit: null },
      orderId: 'o-1',
      items: [ { qty: 2, sku: 'a', note: 'first' }, { sku: 'b', qty: 1 } ],
    }, { trace: [ 1, 2, 3 ] });
    await roundTrip('text', { text: 'hi', mentions: [ { userId: 'u_1', range: [ 0, 2 ] } ], format: null });
    // class-validator's IsLatitude accepts a numeric string: it is stored as that string, never converted.
    await roundTrip('location', { lat: '48.85', lng: 2.35 });
  });

  it('content and meta of every shape round-trip exactly: unicode, \\u0000, numbers, nulls, arrays, key order, deep nesting', async () => {
    await roundTrip('blob', AWKWARD, { alsoMeta: AWKWARD });
    await roundTrip('text', { text: AWKWARD.emoji + AWKWARD.rtl + AWKWARD.controls, ...AWKWARD });
    await roundTrip('blob', nested(100));
  });

  it('invalid content is VALIDATION_FAILED with the problems in details, and nothing is written', async () => {
    const cases: Array<[ string, any, RegExp ]> = [
      [ 'location', { lat: 200, lng: 0 }, /^content\.lat/ ],
      [ 'location', { lat: '48.85°', lng: 2.35 }, /^content\.lat/ ],
      [ 'location', { lng: 2.35 }, /^content\.lat/ ],
      [ 'order', { orderId: 'o', items: [ { sku: 'a', qty: 0 } ], shipTo: { city: 'x' } }, /^content\.items\.0\.qty/ ],
      [ 'order', { orderId: 'o', items: [ { sku: 'a', qty: '2' } ], shipTo: { city: 'x' } }, /^content\.items\.0\.qty/ ],
      [ 'order', { orderId: 'o', items: [], shipTo: { city: 'x' } }, /^content\.items/ ],
      [ 'order', { orderId: 'o', items: [ { sku: 'a', qty: 1 } ] }, /^content\.shipTo/ ],
      [ 'order', { orderId: 'o', items: [ { sku: 'a', qty: 1 } ], shipTo: { city: 'x', point: { lat: 1, lng: 999 } } }, /^content\.shipTo\.point\.lng/ ],
      [ 'order', { orderId: 'o', items: 'many', shipTo: { city: 'x' } }, /^content\.items/ ],
      [ 'text', { text: '' }, /^content\.text/ ],
      [ 'text', { text: 42 }, /^content\.text/ ],
      [ 'text', {}, /^content\.text/ ],
    ];
    const [ before ] = await h.rows('SELECT COUNT(*) AS n FROM im_messages');
    for (const [ type, content, problem ] of cases) {
      const ack = await h.send(a, { to: toBob(), type, content, clientMsgId: h.clientMsgId() });
      assert.equal(ack.ok, false, `${type} ${JSON.stringify(content)}`);
      assert.equal(ack.error.code, 'VALIDATION_FAILED');
      assert.equal(ack.error.details.type, type);
      assert.ok(Array.isArray(ack.error.details.problems) && ack.error.details.problems.length > 0);
      assert.match(ack.error.details.problems[0], problem, JSON.stringify(ack.error));
      assert.equal(ack.error.message, ack.error.details.problems[0]);
      const res = await h.post('/im/messages', { to: toBob(), type, content, clientMsgId: h.clientMsgId() }, alice.token).expect(400);
      assert.deepStrictEqual(res.body.error, ack.error);
    }
    const [ after ] = await h.rows('SELECT COUNT(*) AS n FROM im_messages');
    assert.equal(Number(after.n), Number(before.n));
  });

  it('an unregistered type is UNKNOWN_MESSAGE_TYPE', async () => {
    const ack = await h.send(a, { to: toBob(), type: 'hologram', content: { x: 1 }, clientMsgId: h.clientMsgId() });
    assert.deepStrictEqual(ack, { ok: false, error: { code: 'UNKNOWN_MESSAGE_TYPE', message: 'message type "hologram" is not registered', details: { type: 'hologram' } } });
    const res = await h.post('/im/messages', { to: toBob(), type: 'hologram', content: {}, clientMsgId: h.clientMsgId() }, alice.token).expect(400);
    assert.equal(res.body.error.code, 'UNKNOWN_MESSAGE_TYPE');
  });

  it('content + meta over 64 KB (bytes of JSON) is PAYLOAD_TOO_LARGE; exactly 64 KB is accepted', async () => {
    const limit = 64 * 1024;
    // {"text":"…"} is 11 bytes around the text, {} is 2.
    const atLimit = await h.send(a, { to: toBob(), type: 'text', content: { text: 'x'.repeat(limit - 13) }, clientMsgId: h.clientMsgId() });
    assert.equal(atLimit.ok, true, JSON.stringify(atLimit.error));
    const over = await h.send(a, { to: toBob(), type: 'text', content: { text: 'x'.repeat(limit - 12) }, clientMsgId: h.clientMsgId() });
    assert.deepStrictEqual(over.error.code, 'PAYLOAD_TOO_LARGE');
    assert.deepStrictEqual(over.error.details, { bytes: limit + 1, limit });
    // Multi-byte characters count as their UTF-8 bytes; meta counts too.
    const emoji = await h.send(a, { to: toBob(), type: 'text', content: { text: '😀'.repeat(16384) }, clientMsgId: h.clientMsgId() });
    assert.equal(emoji.error.code, 'PAYLOAD_TOO_LARGE');
    const withMeta = await h.send(a, { to: toBob(), type: 'text', content: { text: 'x' }, meta: { pad: 'y'.repeat(limit) }, clientMsgId: h.clientMsgId() });
    assert.equal(withMeta.error.code, 'PAYLOAD_TOO_LARGE');
    const viaHttp = await h.post('/im/messages', { to: toBob(), type: 'blob', content: { pad: 'z'.repeat(limit) }, clientMsgId: h.clientMsgId() }, alice.token).expect(413);
    assert.equal(viaHttp.body.error.code, 'PAYLOAD_TOO_LARGE');
    const rows = await h.rows('SELECT COUNT(*) AS n FROM im_messages WHERE LENGTH(content) + LENGTH(meta) > ?', [ limit ]);
    assert.equal(Number(rows[0].n), 0);
  });

  it('nesting deeper than the limit (100) is VALIDATION_FAILED, even far deeper than the JavaScript stack', async () => {
    const deep = await h.send(a, { to: toBob(), type: 'blob', content: nested(101), clientMsgId: h.clientMsgId() });
    assert.equal(deep.error.code, 'VALIDATION_FAILED');
    assert.equal(deep.error.message, 'content is nested deeper than 100 levels');
    // 20,000 nested arrays (40 KB of JSON): too deep for socket.io-client's encoder, so the packet is written raw.
    const abyss = await rawEmit(a, 'message:send',
      `{"to":${JSON.stringify(toBob())},"type":"blob","content":{"arrays":${'['.repeat(20000)}${']'.repeat(20000)}},"clientMsgId":"${h.clientMsgId()}"}`);
    assert.equal(abyss.error.code, 'VALIDATION_FAILED', JSON.stringify(abyss));
    assert.equal(abyss.error.details.field.split('[')[0], 'content.arrays');
    // The path is the client's nesting: it is cut short, not echoed whole.
    assert.ok(abyss.error.details.field.length < 400 && abyss.error.details.field.endsWith('…'), abyss.error.details.field);
    const longKeys = await h.send(a, { to: toBob(), type: 'blob', content: nested(101, 'k'.repeat(64)), clientMsgId: h.clientMsgId() });
    assert.equal(longKeys.error.code, 'VALIDATION_FAILED');
    assert.ok(longKeys.error.details.field.length < 400, `${longKeys.error.details.field.length} characters`);
    const inMeta = await h.send(a, { to: toBob(), type: 'text', content: { text: 'x' }, meta: nested(101), clientMsgId: h.clientMsgId() });
    assert.equal(inMeta.error.message, 'meta is nested deeper than 100 levels');
  });
});
