import assert from 'node:assert';
import { knownJson, NodeMessageType, type DeliverMessage, type Message, type NodeMessage } from 'egg-im-protocol';
import { Delivery, type DeliveryDeps } from '../lib/delivery/Delivery';

type Emitted = { socketId: string; event: string; message: Message };

/** A Delivery on fakes: one node of several, with `local` users connected here. */
function deliveryOn(local: string[], statusOf: () => Promise<unknown> = async () => undefined) {
  const published: NodeMessage[] = [];
  const warnings: unknown[][] = [];
  const emitted: Emitted[] = [];
  const errors: unknown[] = [];
  let onDeliver: ((message: DeliverMessage) => void) | undefined;
  const nodes = {
    multi: true, ready: true, epoch: 0,
    publish: (message: NodeMessage) => published.push(message),
    subscribe: (type: NodeMessageType, handler: (message: never) => void) => {
      if (type === NodeMessageType.Deliver) onDeliver = handler as (message: DeliverMessage) => void;
    },
    onReady: () => undefined,
  };
  const socketOf = (userId: string) => ({
    id: `sock-${userId}`, data: { userId },
    emit: (event: string, message: Message) => emitted.push({ socketId: `sock-${userId}`, event, message }),
  });
  const sockets = {
    nodes,
    hasUser: (userId: string) => local.includes(userId),
    ofUser: (userId: string) => (local.includes(userId) ? [ socketOf(userId) ] : []),
    userIds: () => local,
    onConnect: () => undefined,
  };
  const delivery = new Delivery({
    sockets, history: { note: () => undefined },
    receipts: { delivered: async () => undefined, attempted: async () => undefined, failed: async () => undefined, statusOf },
    config: { reorderWaitMs: 5, ackTimeoutMs: 60000, maxBackoffMs: 60000, backoffFactor: 2, maxAttempts: 3, replayLimit: 100, unansweredMaxMs: 60000 },
    observer: { delivered: () => undefined, retried: () => undefined, failed: () => undefined },
    logger: { info: () => undefined, warn: (...args: unknown[]) => warnings.push(args), error: (err: unknown) => errors.push(err) },
    timers: { ran: () => undefined },
  } as unknown as DeliveryDeps);
  delivery.start();
  return { delivery, published, emitted, errors, warnings, deliver: (message: DeliverMessage) => onDeliver!(message) };
}

const message = (): Message => ({
  id: 'm_1', conversationId: 'd:alice:bob', seq: 1, senderId: 'alice', type: 'text', content: { text: 'hi "bob"' }, meta: {},
  clientMsgId: 'c_1', createdAt: new Date(0).toISOString(),
} as unknown as Message);

describe('egg-im-router: Delivery and the other nodes (unit)', () => {
  it('answers a resend without the recorded cursor when it cannot be read, and says so (the message is stored)', async () => {
    const node = deliveryOn([], async () => { throw new Error('store down'); });
    assert.strictEqual(await node.delivery.recordedCursor(message(), [ 'alice', 'bob' ]), undefined);
    node.delivery.stop();
    assert.strictEqual(node.warnings.length, 1);
    assert.match(String(node.warnings[0][0]), /delivered cursor of message %s not read/);
    assert.deepStrictEqual(node.warnings[0].slice(1), [ 'm_1', 'store down' ]);
  });

  it('answers a resend with the recorded cursor once the recipient has the message', async () => {
    const node = deliveryOn([], async () => ({ recipients: [ { userId: 'bob', status: 'read' } ] }));
    assert.deepStrictEqual(await node.delivery.recordedCursor(message(), [ 'alice', 'bob' ]), { conversationId: 'd:alice:bob', userId: 'bob', deliveredSeq: 1 });
    node.delivery.stop();
  });

  it('routes a message to the other nodes as the text it was encoded as once', () => {
    const node = deliveryOn([]);
    const routed = message();
    node.delivery.route(routed, [ 'alice', 'bob' ], 'sock-alice');
    node.delivery.stop();
    assert.deepStrictEqual(node.published, [
      { type: NodeMessageType.Deliver, messageJson: JSON.stringify(routed), memberIds: [ 'alice', 'bob' ], originSocketId: 'sock-alice' },
    ]);
    assert.strictEqual(knownJson(routed), JSON.stringify(routed), 'the ack and the pushes write the same text');
  });

  it('a node that holds none of the members does not parse the message', () => {
    const node = deliveryOn([ 'carol' ]);
    // not JSON at all: parsing it would throw
    node.deliver({ type: NodeMessageType.Deliver, messageJson: '{not json', memberIds: [ 'alice', 'bob' ] });
    node.delivery.stop();
    assert.deepStrictEqual(node.emitted, []);
    assert.deepStrictEqual(node.errors, []);
  });

  it('a node that holds a member pushes the message with the text it came as', async () => {
    const node = deliveryOn([ 'bob' ]);
    const text = JSON.stringify(message());
    node.deliver({ type: NodeMessageType.Deliver, messageJson: text, memberIds: [ 'alice', 'bob' ] });
    await new Promise(resolve => setTimeout(resolve, 30));
    node.delivery.stop();
    assert.strictEqual(node.emitted.length, 1);
    const [ pushed ] = node.emitted;
    assert.strictEqual(pushed.event, 'message:new');
    assert.deepStrictEqual(pushed.message, message());
    assert.strictEqual(knownJson(pushed.message), text);
  });
});
