import assert from 'node:assert';
import path from 'node:path';
import mm, { type MockApplication } from 'egg-mock';
import { createTestDatabase, dropTestDatabase } from 'egg-im-testkit';
import { ImSession } from '../lib/entity';
import { cleanFixture, makeTempDir } from './helpers';

/** Ended sessions (expired or revoked) are deleted after their retention, so im_sessions does not grow forever. */
for (const driver of [ 'mysql', 'sqlite' ] as const) {
  describe(`egg-im-store: purging ended sessions (${driver})`, function() {
    this.timeout(60000);
    let app: MockApplication;
    let database: { name: string; url: string } | undefined;

    before(async () => {
      if (driver === 'mysql') {
        database = await createTestDatabase('purge');
        mm(process.env, 'STORE_TEST_MYSQL_URL', database.url);
        app = mm.app({ baseDir: 'apps/mysql', cache: false });
      } else {
        mm(process.env, 'IM_DATABASE_URL', `sqlite:${path.join(makeTempDir('purge'), 'im.sqlite')}`);
        app = mm.app({ baseDir: 'apps/sqlite', cache: false });
      }
      await app.ready();
    });

    after(async () => {
      await app?.close();
      cleanFixture(driver);
      if (database) await dropTestDatabase(database.name);
    });

    it('deletes sessions that ended before the cut-off, in batches, and keeps the others', async () => {
      const { sessions, users } = app.imStore;
      const userId = await users.create(`purge_${driver}`, 'x');
      const hour = 3600 * 1000;
      const now = Date.now();
      const make = (hoursFromNow: number, i: number) => sessions.create({
        userId, deviceId: `d${i}`, tokenHash: `${driver}-${i}-`.padEnd(64, 'x'), expiresAt: new Date(now + hoursFromNow * hour),
      });
      const expiredLongAgo = await Promise.all([ -50, -49, -48 ].map(make));
      const expiredRecently = await make(-1, 10);
      const live = await make(5, 11);
      const revoked = await make(5, 12);
      assert(await sessions.revoke(revoked, new Date(now - 30 * hour)), 'revoked');

      const cutOff = new Date(now - 24 * hour);
      assert.equal(await sessions.purgeEnded(cutOff, 2), 2, 'a batch is bounded');
      assert.equal(await sessions.purgeEnded(cutOff, 100), 2, 'the rest: one expired long ago, and the revoked one');
      assert.equal(await sessions.purgeEnded(cutOff, 100), 0);
      const left = (await app.imStore.getRepository(ImSession).find()).map(s => s.id).sort();
      assert.deepEqual(left, [ expiredRecently, live ].sort());
      assert(!left.some(id => expiredLongAgo.includes(id)));
    });
  });
}
