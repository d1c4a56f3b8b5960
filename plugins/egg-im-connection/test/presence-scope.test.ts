import assert from 'node:assert';
import { connect, registerAndLogin, waitFor, type Socket, type TestLogin } from 'egg-im-testkit';
import { assertNoSecretsInLogs, startFixture, type Fixture } from './support/fixture';

/** GET users/:userId/presence as `viewer`: the status and body. */
async function ask(fx: Fixture, viewer: TestLogin, userId: string): Promise<{ status: number; body: any }> {
  const res = await fx.app.httpRequest().get(`/im/users/${encodeURIComponent(userId)}/presence`).set('Authorization', `Bearer ${viewer.token}`);
  return { status: res.status, body: res.body };
}

/** The answer for a user that does not exist, with `userId` in place of the unknown id. */
async function notFoundAnswer(fx: Fixture, viewer: TestLogin, userId: string): Promise<{ status: number; body: any }> {
  const unknown = `u_nobody_${Date.now()}`;
  const res = await ask(fx, viewer, unknown);
  assert.strictEqual(res.status, 404, JSON.stringify(res.body));
  return JSON.parse(JSON.stringify(res).split(unknown).join(userId));
}

describe('egg-im-connection: presence scope (default: contacts)', () => {
  let fx: Fixture;
  const sockets: Socket[] = [];
  const loginUser = async (label: string): Promise<TestLogin> => {
    const session = await registerAndLogin(fx.app, label);
    fx.secrets.add(session.token).add(session.password);
    return session;
  };
  const online = async (user: TestLogin) => {
    sockets.push(await connect(fx.url, user.token));
  };
  /** A direct message from `a` to `b`, written through the store as the router writes it: the conversation and both member rows. */
  const directMessage = (a: TestLogin, b: TestLogin) => fx.app.imStore.writer.append({
    conversationId: `d:${a.userId}:${b.userId}`, kind: 'direct', directMemberIds: [ a.userId, b.userId ], senderId: a.userId,
    clientMsgId: `c_${Date.now()}`, type: 'text', contentJson: '{"text":"hello"}', metaJson: '{}',
  });

  before(async () => {
    fx = await startFixture('presence-scope');
  });
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
  });
  after(async () => {
    await fx?.close();
  });

  it('answers a stranger\'s presence exactly as for a user that does not exist, online or not', async () => {
    const viewer = await loginUser('viewer');
    const stranger = await loginUser('stranger');
    const expected = await notFoundAnswer(fx, viewer, stranger.userId);
    assert.deepStrictEqual(expected.body, { ok: false, error: { code: 'NOT_FOUND', message: `user ${stranger.userId} not found`, details: { userId: stranger.userId } } });
    assert.deepStrictEqual(await ask(fx, viewer, stranger.userId), expected, 'offline stranger');
    await online(stranger);
    await waitFor(async () => (await ask(fx, stranger, stranger.userId)).body.online, 2000, 'the stranger online');
    assert.deepStrictEqual(await ask(fx, viewer, stranger.userId), expected, 'online stranger');
  });

  it('does not show a user\'s presence to whoever messages them or puts them in a group, until they answer', async () => {
    const target = await loginUser('target');
    const prober = await loginUser('prober');
    await online(target);
    await waitFor(async () => (await ask(fx, target, target.userId)).body.online, 2000, 'the target online');
    const expected = await notFoundAnswer(fx, prober, target.userId);
    await directMessage(prober, target);
    await fx.app.imStore.conversations.createGroup('probe', prober.userId, [ target.userId ]);
    assert.deepStrictEqual(await ask(fx, prober, target.userId), expected, 'a message and a group of the prober\'s making');
    // The target sees the prober, who wrote to it.
    assert.deepStrictEqual(await ask(fx, target, prober.userId), { status: 200, body: { userId: prober.userId, online: false, devices: 0 } });
  });

  it('shows the presence of users who wrote in or read a direct conversation they share', async () => {
    const alice = await loginUser('alice');
    const bob = await loginUser('bob');
    assert.strictEqual((await ask(fx, alice, bob.userId)).status, 404);
    const { conversationId } = (await directMessage(alice, bob)).message;
    assert.strictEqual((await ask(fx, alice, bob.userId)).status, 404, 'bob has not answered');
    await fx.app.imStore.receipts.read({ conversationId, userId: bob.userId, seq: 1 });
    await online(bob);
    const seen = await waitFor(async () => {
      const res = await ask(fx, alice, bob.userId);
      return res.body.online ? res : undefined;
    }, 2000, 'bob online for alice');
    assert.deepStrictEqual(seen, { status: 200, body: { userId: bob.userId, online: true, devices: 1 } });
    assert.deepStrictEqual(await ask(fx, bob, alice.userId), { status: 200, body: { userId: alice.userId, online: false, devices: 0 } });
  });

  it('shows the presence of group members who wrote in the group to the others, and no longer once one has left', async () => {
    const [ owner, member, outsider ] = [ await loginUser('owner'), await loginUser('member'), await loginUser('outsider') ];
    const { conversationId } = await fx.app.imStore.conversations.createGroup('team', owner.userId, [ member.userId ]);
    assert.strictEqual((await ask(fx, owner, member.userId)).status, 404, 'nobody wrote yet');
    for (const author of [ owner, member ]) {
      await fx.app.imStore.writer.append({
        conversationId, kind: 'group', senderId: author.userId, clientMsgId: `c_${author.userId}`, type: 'text', contentJson: '{"text":"hi"}', metaJson: '{}',
      });
    }
    assert.strictEqual((await ask(fx, owner, member.userId)).status, 200);
    assert.strictEqual((await ask(fx, member, owner.userId)).status, 200);
    assert.deepStrictEqual(await ask(fx, outsider, member.userId), await notFoundAnswer(fx, outsider, member.userId));
    assert.deepStrictEqual(await ask(fx, member, outsider.userId), await notFoundAnswer(fx, member, outsider.userId));
    await fx.app.imStore.conversations.removeMember(conversationId, member.userId);
    assert.deepStrictEqual(await ask(fx, owner, member.userId), await notFoundAnswer(fx, owner, member.userId), 'decided on every request');
  });

  it('always shows a user their own presence', async () => {
    const loner = await loginUser('loner');
    await online(loner);
    await waitFor(async () => (await ask(fx, loner, loner.userId)).body.online, 2000, 'own presence online');
  });

  it('checks the id before the scope: a malformed one is VALIDATION_FAILED for anyone', async () => {
    const viewer = await loginUser('shape');
    const res = await ask(fx, viewer, 'padded ');
    assert.strictEqual(res.status, 400);
    assert.strictEqual(res.body.error.code, 'VALIDATION_FAILED');
  });

  describe('after the run', () => {
    it('wrote no token and no password to any log file', async () => {
      for (const socket of sockets.splice(0)) socket.close();
      await fx.close();
      await assertNoSecretsInLogs(fx);
    });
  });
});

describe('egg-im-connection: presence scope (visibleTo: everyone)', () => {
  let fx: Fixture;

  before(async () => {
    fx = await startFixture('presence-everyone');
  });
  after(async () => {
    await fx?.close();
  });

  it('shows any existing user\'s presence, and NOT_FOUND for a user that does not exist', async () => {
    const viewer = await registerAndLogin(fx.app, 'viewer');
    const stranger = await registerAndLogin(fx.app, 'stranger');
    assert.deepStrictEqual(await ask(fx, viewer, stranger.userId), { status: 200, body: { userId: stranger.userId, online: false, devices: 0 } });
    const missing = await ask(fx, viewer, 'u_does_not_exist');
    assert.deepStrictEqual(missing, { status: 404, body: { ok: false, error: { code: 'NOT_FOUND', message: 'user u_does_not_exist not found', details: { userId: 'u_does_not_exist' } } } });
  });
});
