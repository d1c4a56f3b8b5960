import assert from 'node:assert';
import { startFixture, type Fixture } from './support/fixture';

// egg-im's API takes bearer tokens, which browsers never send on their own: it is exempt from CSRF checks,
// beside the host app's own exemptions, and the host's other pages keep them.
describe('egg-im-connection: CSRF with a host app\'s own security.csrf.ignore', () => {
  let fx: Fixture;
  before(async () => {
    fx = await startFixture('host-csrf');
  });
  after(async () => {
    await fx?.close();
  });

  it('keeps the API under the prefix exempt', async () => {
    const password = 'csrf-password';
    fx.secrets.add(password);
    await fx.app.httpRequest().post('/im/auth/register').send({ username: 'csrf_user', password }).expect(201);
  });

  it('keeps the host\'s own exemption, and the check everywhere else', async () => {
    await fx.app.httpRequest().post('/host/webhooks').send({}).expect(200);
    const res = await fx.app.httpRequest().post('/host/profile').send({}).expect(403);
    assert.match(res.text, /csrf/i);
  });
});
