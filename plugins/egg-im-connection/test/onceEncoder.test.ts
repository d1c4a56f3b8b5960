import assert from 'node:assert';
import * as parser from 'socket.io-parser';
import { jsonOnce } from 'egg-im-protocol';
import { OnceEncoder } from '../lib/socket/OnceEncoder';

const { EVENT, ACK, CONNECT } = parser.PacketType;

describe('egg-im-connection: OnceEncoder (unit)', () => {
  const standard = new parser.Encoder();
  const once = new OnceEncoder();
  const message = () => ({ id: 'm_1', seq: 3, content: { text: 'say "hi"\n', tags: [ 'a', null ] }, meta: { n: 1.5 }, createdAt: '2026-12-06T08:00:00.000Z' });

  it('writes the same frames as socket.io\'s own encoder', () => {
    const packets: parser.Packet[] = [
      { type: EVENT, nsp: '/', data: [ 'message:new', jsonOnceOf(message()) ], id: 12 },
      { type: EVENT, nsp: '/', data: [ 'message:new', jsonOnceOf(message()) ] },
      { type: ACK, nsp: '/', data: [ { ok: true, message: jsonOnceOf(message()), skipped: undefined, n: 0, none: null } ], id: 0 },
      { type: ACK, nsp: '/', data: [ { ok: true, message: jsonOnceOf(message()), cursors: [ { conversationId: 'd:a:b', userId: 'b', deliveredSeq: 3 } ] } ], id: 5 },
      { type: ACK, nsp: '/', data: [ { ok: true, cursors: [ { conversationId: 'd:a:b', userId: 'b', deliveredSeq: 3 } ], message: jsonOnceOf(message()) } ], id: 7 },
      { type: EVENT, nsp: '/', data: [ 'message:cursors', { cursors: [ { conversationId: 'g:1', userId: 'b', deliveredSeq: 3 } ] } ] },
      { type: ACK, nsp: '/', data: [ { ok: true, message: jsonOnceOf(message()), deep: [ [ [ [ 1 ] ] ] ], when: { at: new Date(0) } } ], id: 6 },
      { type: EVENT, nsp: '/admin', data: [ 'x', jsonOnceOf(message()), undefined, 7, 'two' ], id: 3 },
      // nothing encoded once in them, or shapes taken by the default encoder
      { type: EVENT, nsp: '/', data: [ 'message:status', { messageId: 'm_1', seq: 3 } ] },
      { type: ACK, nsp: '/', data: [ { ok: true, messages: [ jsonOnceOf(message()) ] } ], id: 4 },
      { type: EVENT, nsp: '/', data: [ 'x', jsonOnceOf(message()), new Date(0) ] },
      { type: CONNECT, nsp: '/', data: { sid: 'abc' } },
    ];
    for (const packet of packets) assert.deepStrictEqual(once.encode(packet), standard.encode(packet), JSON.stringify(packet));
  });

  it('sends binary the default way', () => {
    const packet = { type: EVENT, nsp: '/', data: [ 'file', jsonOnceOf(message()), Buffer.from('ab') ] };
    const frames = once.encode(packet);
    assert.strictEqual(frames.length, 2);
    assert.deepStrictEqual(frames, standard.encode({ ...packet, data: [ 'file', message(), Buffer.from('ab') ] }));
  });

  it('does not walk a message encoded once again, however many frames carry it', () => {
    let reads = 0;
    const counted = { id: 'm_2', get content() { reads++; return { text: 'hi' }; } };
    const text = jsonOnce(counted);
    assert.strictEqual(reads, 1);
    for (let id = 0; id < 5; id++) assert.deepStrictEqual(once.encode({ type: EVENT, nsp: '/', data: [ 'message:new', counted ], id }), [ `2${id}["message:new",${text}]` ]);
    assert.deepStrictEqual(once.encode({ type: ACK, nsp: '/', data: [ { ok: true, message: counted } ], id: 9 }), [ `39[{"ok":true,"message":${text}}]` ]);
    // An ack with the delivered cursor beside the message (egg-im-router's one-to-one send).
    const cursors = [ { conversationId: 'd:a:b', userId: 'b', deliveredSeq: 3 } ];
    assert.deepStrictEqual(once.encode({ type: ACK, nsp: '/', data: [ { ok: true, message: counted, cursors } ], id: 10 }),
      [ `310[{"ok":true,"message":${text},"cursors":${JSON.stringify(cursors)}}]` ]);
    // …and with the cursors before the message (the message is looked for ahead)
    assert.deepStrictEqual(once.encode({ type: ACK, nsp: '/', data: [ { ok: true, cursors, message: counted } ], id: 11 }),
      [ `311[{"ok":true,"cursors":${JSON.stringify(cursors)},"message":${text}}]` ]);
    assert.strictEqual(reads, 1);
    // The default encoder reads it for each frame (looking for binary, then stringifying).
    standard.encode({ type: EVENT, nsp: '/', data: [ 'message:new', counted ], id: 1 });
    assert.ok(reads >= 3, `reads ${reads}`);
  });
});

function jsonOnceOf<T extends object>(value: T): T {
  jsonOnce(value);
  return value;
}
