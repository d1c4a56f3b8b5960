import assert from 'node:assert';
import { sleep } from 'egg-im-testkit';
import { NODE_PROTOCOL_VERSION, NodeMessageType, decodeNodePacket, type NodeMessage } from 'egg-im-protocol';
import { NodeBus, type NodeChannel, type NodeLink } from '../lib/nodes/NodeBus';

/** A channel that records what is sent and lets the test hand in what "another node" sent. */
class FakeChannel implements NodeChannel {
  readonly sent: string[] = [];
  private listener?: (packet: unknown) => void;

  send(packet: string): void {
    this.sent.push(packet);
  }

  receive(listener: (packet: unknown) => void): void {
    this.listener = listener;
  }

  deliver(packet: unknown): void {
    this.listener!(packet);
  }
}

/** The adapter's connections as the test sets them. */
class FakeLink implements NodeLink {
  ready = true;
  epoch = 0;
  private readonly listeners: Array<() => void> = [];

  onReady(listener: () => void): void {
    this.listeners.push(listener);
  }

  drop(): void {
    this.ready = false;
    this.epoch++;
  }

  back(): void {
    this.ready = true;
    this.epoch++;
    for (const listener of this.listeners) listener();
  }
}

class FakeLogger {
  readonly lines: string[] = [];
  info(message: string) {
    this.lines.push(message);
  }
  warn(message: string) {
    this.lines.push(message);
  }
  error(message: string | Error) {
    this.lines.push(String(message instanceof Error ? message.message : message));
  }
}

const status = (n: number): NodeMessage => ({
  type: NodeMessageType.Status,
  senderId: 'alice',
  status: { messageId: `m${n}`, conversationId: 'c1', seq: n, userId: 'bob', status: 'delivered' },
});
const turn = () => new Promise(resolve => setImmediate(resolve));

describe('egg-im-connection: NodeBus (unit)', () => {
  let channel: FakeChannel;
  let link: FakeLink;
  let logger: FakeLogger;
  let bus: NodeBus;

  beforeEach(() => {
    channel = new FakeChannel();
    link = new FakeLink();
    logger = new FakeLogger();
    bus = new NodeBus(channel, 'node-a', { confirmAfterMs: 50, lingerMs: 0 }, logger);
  });
  afterEach(() => bus.close());

  describe('alone (memory mode: never joined)', () => {
    it('is not multi, is ready, publishes nothing, and confirms at once', async () => {
      assert.strictEqual(bus.multi, false);
      assert.strictEqual(bus.ready, true);
      bus.publish(status(1));
      await turn();
      assert.deepStrictEqual(channel.sent, []);
      assert.strictEqual(await bus.confirmation(), true);
    });
  });

  describe('with lingerMs', () => {
    it('what is published within the linger leaves in one packet, none before it ends', async () => {
      bus.close();
      bus = new NodeBus(channel, 'node-a', { confirmAfterMs: 50, lingerMs: 30 }, logger);
      bus.join(link);
      bus.publish(status(1));
      await sleep(10);
      bus.publish(status(2));
      await turn();
      assert.deepStrictEqual(channel.sent, [], 'nothing before the linger ends');
      await sleep(40);
      assert.strictEqual(channel.sent.length, 1);
      assert.deepStrictEqual(JSON.parse(channel.sent[0]).messages.map((m: any) => m.status.seq), [ 1, 2 ]);
      bus.publish(status(3));
      await sleep(40);
      assert.strictEqual(channel.sent.length, 2, 'a later publish starts a linger of its own');
    });
  });

  describe('joined', () => {
    beforeEach(() => bus.join(link));

    it('is multi, and ready as the adapter is', () => {
      assert.strictEqual(bus.multi, true);
      assert.strictEqual(bus.ready, true);
      link.drop();
      assert.strictEqual(bus.ready, false);
    });

    it('sends everything published in one turn as one packet, at the end of the turn', async () => {
      bus.publish(status(1));
      bus.publish({ type: NodeMessageType.SessionEnded, sessionId: 's1' });
      bus.publish(status(2));
      assert.deepStrictEqual(channel.sent, [], 'nothing before the end of the turn');
      await turn();
      assert.strictEqual(channel.sent.length, 1);
      const packet = decodeNodePacket(channel.sent[0])!;
      assert.strictEqual(packet.v, NODE_PROTOCOL_VERSION);
      assert.strictEqual(packet.from, 'node-a');
      assert.deepStrictEqual(packet.messages, [ status(1), { type: NodeMessageType.SessionEnded, sessionId: 's1' }, status(2) ]);
      bus.publish(status(3));
      await turn();
      assert.strictEqual(channel.sent.length, 2, 'the next turn, the next packet');
    });

    it('splits what piled up in one turn into packets of at most 500 messages, in order', async () => {
      for (let n = 1; n <= 1201; n++) bus.publish(status(n));
      await turn();
      const packets = channel.sent.map(text => decodeNodePacket(text)!.messages);
      assert.deepStrictEqual(packets.map(p => p.length), [ 500, 500, 201 ]);
      assert.deepStrictEqual(packets.flat(), Array.from({ length: 1201 }, (_, i) => status(i + 1)));
    });

    it('tells the epoch of the link: a new one after each drop and return', () => {
      const before = bus.epoch;
      link.drop();
      link.back();
      assert.ok(bus.epoch > before);
    });

    it('hands each message of a packet to the handlers of its type, in order', () => {
      const seen: string[] = [];
      bus.subscribe(NodeMessageType.Status, message => seen.push(`status ${message.status.seq}`));
      bus.subscribe(NodeMessageType.SessionEnded, message => seen.push(`ended ${message.sessionId}`));
      bus.subscribe(NodeMessageType.SessionEnded, message => seen.push(`ended again ${message.sessionId}`));
      channel.deliver(JSON.stringify({ v: NODE_PROTOCOL_VERSION, from: 'node-b', messages: [
        status(1), { type: NodeMessageType.SessionEnded, sessionId: 's1' }, { type: NodeMessageType.Deliver, messageJson: '{}', memberIds: [] }, status(2),
      ] }));
      assert.deepStrictEqual(seen, [ 'status 1', 'ended s1', 'ended again s1', 'status 2' ]);
    });

    it('keeps going when a handler throws, and logs it', () => {
      const seen: number[] = [];
      bus.subscribe(NodeMessageType.Status, () => { throw new Error('boom'); });
      bus.subscribe(NodeMessageType.Status, message => seen.push(message.status.seq));
      channel.deliver(JSON.stringify({ v: NODE_PROTOCOL_VERSION, from: 'node-b', messages: [ status(1), status(2) ] }));
      assert.deepStrictEqual(seen, [ 1, 2 ]);
      assert.strictEqual(logger.lines.filter(line => line.includes('a handler of node message type 3 from node node-b failed')).length, 2);
    });

    it('drops packets it cannot read (another version, not a packet), and says so once', () => {
      const seen: unknown[] = [];
      bus.subscribe(NodeMessageType.Status, message => seen.push(message));
      channel.deliver(JSON.stringify({ v: NODE_PROTOCOL_VERSION + 1, from: 'node-new', messages: [ status(1) ] }));
      channel.deliver('{not json');
      channel.deliver(42);
      assert.deepStrictEqual(seen, []);
      const warnings = logger.lines.filter(line => line.includes('dropped a packet from another node that this node cannot read'));
      assert.strictEqual(warnings.length, 1);
    });

    it('ignores a packet of its own', () => {
      const seen: unknown[] = [];
      bus.subscribe(NodeMessageType.Status, message => seen.push(message));
      channel.deliver(JSON.stringify({ v: NODE_PROTOCOL_VERSION, from: 'node-a', messages: [ status(1) ] }));
      assert.deepStrictEqual(seen, []);
    });

    describe('confirmation()', () => {
      it('is true after the settle time when the adapter stayed up; calls in the window share one answer', async () => {
        const started = Date.now();
        const first = bus.confirmation();
        await sleep(10);
        const second = bus.confirmation();
        assert.strictEqual(first, second, 'one timer, one answer');
        assert.strictEqual(await first, true);
        assert.ok(Date.now() - started >= 45, `answered after ${Date.now() - started} ms`);
        assert.notStrictEqual(bus.confirmation(), first, 'a new window after the answer');
      });

      it('is false when a connection of the adapter failed or reconnected in the window, even if it is back', async () => {
        const answer = bus.confirmation();
        link.drop();
        link.back();
        assert.strictEqual(await answer, false);
      });

      it('is false when the adapter is down at the end of the window', async () => {
        const answer = bus.confirmation();
        link.ready = false;
        assert.strictEqual(await answer, false);
      });

      it('is false at once when the adapter is not ready at the call, without holding the next window', async () => {
        link.ready = false;
        const started = Date.now();
        assert.strictEqual(await bus.confirmation(), false);
        assert.ok(Date.now() - started < 40, 'no settle time');
        link.ready = true;
        assert.strictEqual(await bus.confirmation(), true);
      });

      it('is false for a waiting call when the bus closes, and sends what was queued', async () => {
        bus.publish(status(1));
        const answer = bus.confirmation();
        bus.close();
        assert.strictEqual(await answer, false);
        assert.strictEqual(channel.sent.length, 1);
        assert.strictEqual(await bus.confirmation(), false);
        bus.publish(status(2));
        await turn();
        assert.strictEqual(channel.sent.length, 1, 'nothing after close');
      });
    });

    it('tells onReady listeners each time the adapter is ready again; a listener that throws is logged', () => {
      let calls = 0;
      bus.onReady(() => { throw new Error('boom'); });
      bus.onReady(() => calls++);
      link.drop();
      link.back();
      link.drop();
      link.back();
      assert.strictEqual(calls, 2);
      assert.strictEqual(logger.lines.filter(line => line.includes('a nodes.onReady listener failed')).length, 2);
    });
  });
});
