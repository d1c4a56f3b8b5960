import assert from 'node:assert';
import { queryDatabase } from 'egg-im-testkit/lib/messaging';
import { startMariadbServer, waitFor, type MariadbServer } from 'egg-im-testkit';
import { arrival, firstSeqs, Harness, sleep, type Socket, type TestLogin, type WireMessage } from './support/harness';

// The store on a mariadbd of this test's own, killed during a send and started again on the same datadir.
describe('egg-im-router: the store stops during a send', function() {
  this.timeout(120000);
  let server: MariadbServer;
  let url: string;
  const h = new Harness('store-outage', { database: false });
  let alice: TestLogin;
  let bob: TestLogin;
  let a: Socket;
  let bobInbox: WireMessage[];
  let groupId: string;

  before(async () => {
    server = await startMariadbServer();
    url = server.url('egg_im_fault');
    process.env.ROUTER_TEST_FAULT_DATABASE_URL = url;
    await h.start();
    alice = await h.user('alice');
    bob = await h.user('bob');
    a = await h.socket(alice);
    bobInbox = (await h.online(bob)).inbox;
    ({ groupId } = await h.createGroup(alice, [ bob ]));
  });

  after(async () => {
    await h.close();
    delete process.env.ROUTER_TEST_FAULT_DATABASE_URL;
    await server?.destroy();
  });

  const messagesWith = (clientMsgId: string) => queryDatabase(url, 'SELECT id, seq FROM im_messages WHERE client_msg_id = ?', [ clientMsgId ]);

  it('answers STORE_UNAVAILABLE (retryable) and writes no phantom message; a retry with the same clientMsgId stores exactly one', async () => {
    const to = { type: 'group' as const, id: groupId };
    const warm = await h.text(a, to, 'before the outage');
    assert.equal(warm.ok, true);
    await arrival(bobInbox, warm.message.id);

    // The database hangs while the send's transaction is on its way, then dies (a crash, not a shutdown).
    const body = { to, type: 'text', content: { text: 'during the outage' }, clientMsgId: h.clientMsgId() };
    server.pause();
    const pending = h.send(a, body);
    await sleep(300);
    await server.kill('SIGKILL');
    const ack = await pending;
    assert.equal(ack.ok, false, JSON.stringify(ack));
    assert.equal(ack.error.code, 'STORE_UNAVAILABLE');
    assert.equal(ack.error.details.retryable, true);

    // While it is down: the same over HTTP (503), a direct message too; nobody receives anything.
    const http = await h.post('/im/messages', body, alice.token).expect(503);
    assert.equal(http.body.error.code, 'STORE_UNAVAILABLE');
    const direct = await h.text(a, { type: 'user', id: bob.userId }, 'direct, during the outage');
    assert.equal(direct.error.code, 'STORE_UNAVAILABLE');
    await sleep(200);
    assert.deepStrictEqual(bobInbox.map(m => m.id), [ warm.message.id ]);

    await server.start();
    await waitFor(async () => (await h.app.imStore.check()).ok, 30000, 'the store to reconnect');
    assert.deepStrictEqual(await messagesWith(body.clientMsgId), [], 'the failed send left no message behind');
    const [ conversation ] = await queryDatabase(url, 'SELECT last_seq FROM im_conversations WHERE id = ?', [ warm.message.conversationId ]);
    assert.equal(Number(conversation.last_seq), 1, 'and spent no seq');
    // (The warm message's outbox entry may remain: its removal can meet the outage; the sweeper routes it again.)
    const orphans = await queryDatabase(url, 'SELECT o.message_id FROM im_outbox o LEFT JOIN im_messages m ON m.id = o.message_id WHERE m.id IS NULL');
    assert.deepStrictEqual(orphans, [], 'no outbox entry without its message');

    // The client retries with the same clientMsgId (a retry may still meet the pool recovering).
    let retried: any;
    await waitFor(async () => {
      retried = await h.send(a, body);
      if (!retried.ok && retried.error.code !== 'STORE_UNAVAILABLE') throw new Error(JSON.stringify(retried));
      return retried.ok;
    }, 30000, 'the retry to be accepted');
    assert.equal(retried.message.seq, 2);
    assert.deepStrictEqual(await h.send(a, body), retried, 'and again: the same message');
    assert.deepStrictEqual((await messagesWith(body.clientMsgId)).map(r => [ r.id, Number(r.seq) ]), [[ retried.message.id, 2 ]]);
    await arrival(bobInbox, retried.message.id);
    await sleep(200);
    assert.deepStrictEqual(firstSeqs(bobInbox), [ 1, 2 ]);
  });
});
