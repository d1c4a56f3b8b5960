import assert from 'node:assert';
import { decodeNodePacket, encodeNodePacket, NODE_PROTOCOL_VERSION, NodeMessageType, type NodeMessage } from '../index';

describe('egg-im-protocol node messages', () => {
  const messages: NodeMessage[] = [
    { type: NodeMessageType.SessionEnded, sessionId: 's_1' },
    { type: NodeMessageType.Status, senderId: 'u_1', status: { messageId: 'm_1', conversationId: 'd:a:b', seq: 3, userId: 'u_2', status: 'read' } },
    { type: NodeMessageType.Deliver, messageJson: '{"id":"m_2","content":{"text":"\\"quoted\\""}}', memberIds: [ 'u_1', 'u_2' ], originSocketId: 'sock' },
  ];

  it('round-trips a packet through its one encoder', () => {
    assert.deepStrictEqual(decodeNodePacket(encodeNodePacket('node-1', messages)), { v: NODE_PROTOCOL_VERSION, from: 'node-1', messages });
  });

  it('drops packets of another version, garbage, and messages of unknown types', () => {
    assert.equal(decodeNodePacket(JSON.stringify({ v: NODE_PROTOCOL_VERSION + 1, from: 'n', messages })), undefined);
    for (const text of [ 'not json', '{}', 'null', 42, JSON.stringify({ v: NODE_PROTOCOL_VERSION, from: 'n', messages: 'x' }) ]) {
      assert.equal(decodeNodePacket(text), undefined, String(text));
    }
    const mixed = JSON.stringify({ v: NODE_PROTOCOL_VERSION, from: 'n', messages: [ ...messages, { type: 99 }, null ] });
    assert.deepStrictEqual(decodeNodePacket(mixed)?.messages, messages);
  });

  it('reads the version before it: a Deliver of version 1 carried its message as an object', () => {
    const message = { id: 'm_2', content: { text: 'hi' } };
    const v1 = JSON.stringify({ v: 1, from: 'old', messages: [
      messages[0],
      { type: NodeMessageType.Deliver, message, memberIds: [ 'u_1' ] },
      { type: NodeMessageType.Deliver, memberIds: [ 'u_1' ] },
    ] });
    assert.deepStrictEqual(decodeNodePacket(v1), { v: 1, from: 'old', messages: [
      messages[0],
      { type: NodeMessageType.Deliver, messageJson: JSON.stringify(message), memberIds: [ 'u_1' ] },
    ] });
    assert.equal(decodeNodePacket(JSON.stringify({ v: 0, from: 'n', messages })), undefined);
  });
});
