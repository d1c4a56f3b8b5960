import assert from 'node:assert';
import mm, { type MockApplication } from 'egg-mock';
import {
  connect, createTestDatabase, deleteKeysUnder, dropTestDatabase, listen, registerAndLogin, request, TEST_REDIS_URL, uniqueName, type Socket,
} from 'egg-im-testkit';

/** The example app on the egg-im framework (selected by its package.json), on MariaDB and Redis. */
describe('examples/chat', function() {
  this.timeout(60000);
  const prefix = `${uniqueName('chat')}:`;
  let app: MockApplication;
  let database: { name: string; url: string };
  let sockets: Socket[] = [];

  before(async () => {
    database = await createTestDatabase('chat');
    mm(process.env, 'IM_DATABASE_URL', database.url);
    mm(process.env, 'IM_REDIS_URL', TEST_REDIS_URL);
    mm(process.env, 'IM_REDIS_PREFIX', prefix);
    app = mm.app({ cache: false });
    await app.ready();
  });

  afterEach(() => {
    for (const socket of sockets) socket.close();
    sockets = [];
  });

  after(async () => {
    await app?.close();
    mm.restore();
    if (database) await dropTestDatabase(database.name);
    await deleteKeysUnder(prefix);
  });

  it('boots on the framework with its custom types registered by config and in code', async () => {
    const eggPaths: string[] = (app as any).loader.eggPaths;
    assert(eggPaths.some(dir => /framework[\\/]egg-im$/.test(dir)), `the app runs on egg-im: ${eggPaths.join(', ')}`);
    assert.deepEqual([ ...app.im.messageTypes.keys() ].sort(), [ 'location', 'poll', 'sticker', 'text' ]);
    assert.equal((await app.httpRequest().get('/readyz').expect(200)).body.status, 'ready');
  });

  it('sends each custom type through the real pipeline, refusing bad content with the reason', async () => {
    const url = await listen(app);
    const alice = await registerAndLogin(app, 'alice');
    const bob = await registerAndLogin(app, 'bob');
    const socket = await connect(url, alice.token);
    sockets.push(socket);
    const send = (type: string, content: object, clientMsgId: string) =>
      request(socket, 'message:send', { to: { type: 'user', id: bob.userId }, type, content, clientMsgId });

    const poll = { question: 'Lunch?', options: [ { id: 'a', text: 'Noodles 🍜' }, { id: 'b', text: 'Tacos' } ], multiple: false };
    const sent = await send('poll', poll, 'p1');
    assert.equal(sent.ok, true, JSON.stringify(sent));
    assert.deepStrictEqual(sent.message.content, poll);
    assert.equal((await send('location', { lat: 48.85, lng: 2.35, name: 'Paris' }, 'l1')).ok, true);
    assert.equal((await send('sticker', { packId: 'cats', stickerId: 'wave' }, 's1')).ok, true);

    const badPoll = await send('poll', { question: 'Lunch?', options: [ { id: 'a', text: 'only one' } ] }, 'p2');
    assert.equal(badPoll.error.code, 'VALIDATION_FAILED');
    assert.match(badPoll.error.message, /options/);
    const badSticker = await send('sticker', { packId: 'Cats!', stickerId: 'wave' }, 's2');
    assert.deepEqual(badSticker.error.details.problems, [ 'content.packId must match /^[a-z0-9_-]{1,40}$/' ]);
    assert.equal((await send('gif', { url: 'x' }, 'g1')).error.code, 'UNKNOWN_MESSAGE_TYPE');
  });
});
