import assert from 'node:assert';
import { register, registerAndLogin, type TestLogin } from 'egg-im-testkit';
import { startFixture, type Fixture } from './support/fixture';

/** The user directory, GET {prefix}/users: find a user by username prefix or by id, signed in only. */
describe('egg-im-connection: the user directory', () => {
  let fx: Fixture;
  let viewer: TestLogin;
  const names = [ 'a', 'ab', 'abc', 'b' ];
  const ids = new Map<string, string>();
  /** Usernames of this run: `dir<pid>_a`, `dir<pid>_ab`, ... */
  const tag = `dir${process.pid % 100000}_`;
  const ask = (query: string, token: string | null = viewer.token) => {
    const req = fx.app.httpRequest().get(`/im/users${query}`);
    return token === null ? req : req.set('Authorization', `Bearer ${token}`);
  };

  before(async () => {
    fx = await startFixture('auth');
    viewer = await registerAndLogin(fx.app, 'viewer');
    fx.secrets.add(viewer.token).add(viewer.password);
    for (const name of names) {
      const username = `${tag}${name}`;
      const res = await fx.app.httpRequest().post('/im/auth/register').send({ username, password: `pw-${username}-secret` }).expect(201);
      ids.set(name, res.body.userId);
    }
  });
  after(async () => {
    await fx?.close();
  });

  it('lists the users whose username starts with the prefix, the exact name first, bounded by limit', async () => {
    const res = await ask(`?username=${tag}a`).expect(200);
    assert.strictEqual(res.headers['cache-control'], 'no-store');
    assert.deepStrictEqual(res.body, { users: [ 'a', 'ab', 'abc' ].map(n => ({ userId: ids.get(n), username: `${tag}${n}` })) });
    const limited = await ask(`?username=${tag}a&limit=2`).expect(200);
    assert.deepStrictEqual(limited.body.users.map((u: any) => u.username), [ `${tag}a`, `${tag}ab` ]);
    assert.deepStrictEqual((await ask(`?username=${tag}c`).expect(200)).body, { users: [] });
  });

  it('names users by id, in the order given, leaving unknown ids out; nothing but userId and username', async () => {
    const other = await register(fx.app, 'listed');
    const query = [ ids.get('b'), 'u_nobody', other.userId ].map(id => `id=${encodeURIComponent(id!)}`).join('&');
    const res = await ask(`?${query}`).expect(200);
    assert.deepStrictEqual(res.body, { users: [ { userId: ids.get('b'), username: `${tag}b` }, { userId: other.userId, username: other.username } ] });
  });

  it('refuses a request without a session', async () => {
    const res = await ask(`?username=${tag}a`, null).expect(401);
    assert.strictEqual(res.body.error.code, 'UNAUTHORIZED');
    await ask(`?username=${tag}a`, 'not-a-token').expect(401);
  });

  it('answers bad input with VALIDATION_FAILED naming the field, without echoing a bad id', async () => {
    const cases: Array<[ string, string ]> = [
      [ '', 'username' ],
      [ `?username=a&id=${ids.get('b')}`, 'username' ],
      [ '?username=', 'username' ],
      [ `?username=${'x'.repeat(65)}`, 'username' ],
      [ '?username=%07bell', 'username' ],
      [ '?username=a&username=b', 'username' ],
      [ '?username=a&limit=0', 'limit' ],
      [ '?username=a&limit=51', 'limit' ],
      [ '?username=a&limit=2.5', 'limit' ],
      [ `?id=${ids.get('b')}&limit=5`, 'limit' ],
      [ '?id=%20padded', 'id' ],
      [ '?id=zero%E2%80%8Bwidth', 'id' ],
      [ `?${Array.from({ length: 51 }, (_, i) => `id=u_${i}`).join('&')}`, 'id' ],
    ];
    for (const [ query, field ] of cases) {
      const res = await ask(query).expect(400);
      assert.strictEqual(res.body.error.code, 'VALIDATION_FAILED', query);
      assert.strictEqual(res.body.error.details?.field, field, `${query}: ${JSON.stringify(res.body)}`);
      assert(!JSON.stringify(res.body).includes('padded') && !JSON.stringify(res.body).includes('zero'), 'the bad id is not echoed');
    }
  });
});

describe('egg-im-connection: the user directory turned off (directory.enabled: false)', () => {
  let fx: Fixture;
  before(async () => {
    fx = await startFixture('directory-off');
  });
  after(async () => {
    await fx?.close();
  });

  it('answers GET users as an unknown path: NOT_FOUND, with or without a session', async () => {
    const viewer = await registerAndLogin(fx.app, 'viewer');
    fx.secrets.add(viewer.token).add(viewer.password);
    const signedIn = await fx.app.httpRequest().get(`/im/users?username=${viewer.username}`).set('Authorization', `Bearer ${viewer.token}`).expect(404);
    assert.strictEqual(signedIn.body.error.code, 'NOT_FOUND');
    const anonymous = await fx.app.httpRequest().get(`/im/users?username=${viewer.username}`).expect(404);
    assert.deepStrictEqual(anonymous.body, signedIn.body);
    await fx.app.httpRequest().get(`/im/users/${viewer.userId}/presence`).set('Authorization', `Bearer ${viewer.token}`).expect(200);
  });
});
