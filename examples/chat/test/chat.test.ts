import assert from 'node:assert';
import type { MockApplication } from 'egg-mock';
import { connect, listen, registerAndLogin, request, type Socket } from 'egg-im-testkit';
import { startChatApp, type ChatApp } from './support/chatApp';

/** The example app on the egg-im framework (selected by its package.json), on MariaDB and Redis. */
describe('examples/chat', function() {
  this.timeout(60000);
  let chat: ChatApp;
  let app: MockApplication;
  let sockets: Socket[] = [];

  before(async () => {
    chat = await startChatApp('chat');
    app = chat.app;
  });

  afterEach(() => {
    for (const socket of sockets) socket.close();
    sockets = [];
  });

  after(async () => {
    await chat?.close();
  });

  it('boots on the framework with its custom types registered by config and in code', async () => {
    const eggPaths: string[] = (app as any).loader.eggPaths;
    assert(eggPaths.some(dir => /framework[\\/]egg-im$/.test(dir)), `the app runs on egg-im: ${eggPaths.join(', ')}`);
    assert.deepEqual([ ...app.im.messageTypes.keys() ].sort(), [ 'location', 'poll', 'sticker', 'text' ]);
    assert.equal((await app.httpRequest().get('/readyz').expect(200)).body.status, 'ready');
  });

  it('serves its web page at / (bundled at boot), revalidated by ETag', async () => {
    const page = await app.httpRequest().get('/').expect(200);
    assert.match(page.headers['content-type'], /^text\/html/);
    assert.match(page.text, /<script type="module" src="\/assets\/app\.js"><\/script>/);
    assert.match(page.text, /<label for="auth-username">Username<\/label>/);
    const script = await app.httpRequest().get('/assets/app.js').expect(200);
    assert.match(script.headers['content-type'], /^text\/javascript/);
    assert(script.text.length > 20_000 && !/\brequire\(/.test(script.text), 'one browser bundle, no require()');
    assert.equal(script.headers['cache-control'], 'no-cache');
    await app.httpRequest().get('/assets/app.js').set('If-None-Match', script.headers.etag).expect(304);
    assert.match((await app.httpRequest().get('/assets/app.css').expect(200)).headers['content-type'], /^text\/css/);
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
