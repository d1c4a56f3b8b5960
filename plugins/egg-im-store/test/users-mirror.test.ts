import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { drivers, storeOn } from './drivers';
import { expectImError, rejectionOf } from './helpers';

const UUIDS = [
  '0b6f1e0e-8d5e-4c1f-9a39-2f1f4c1f0a01',
  '0b6f1e0e-8d5e-4c1f-9a39-2f1f4c1f0a02',
  '0b6f1e0e-8d5e-4c1f-9a39-2f1f4c1f0a03',
];
const LONG_ID = `tenant:${'z'.repeat(121)}`;

for (const driver of drivers) {
  describe(`egg-im-store: users mirrored from the host application (ensureMany, ensure without a name) on ${driver.name}`, () => {
    const storeOf = storeOn(driver, 'mirror');

    it('isKnown: true only for an id this store has seen exist (created, mirrored or looked up), never by guess', async () => {
      const fresh = '0b6f1e0e-8d5e-4c1f-9a39-2f1f4c1f0a0f';
      const users = storeOf().users;
      assert.equal(users.isKnown(fresh), false);
      assert.equal(await users.exists(fresh), false);
      assert.equal(users.isKnown(fresh), false, 'a miss is not remembered');
      await users.ensureMany([ fresh ]);
      assert.equal(users.isKnown(fresh), true);
      assert.equal(users.isKnown(` ${fresh}`), false);
      const registered = await users.create(`known_${Date.now()}`, null);
      assert.equal(users.isKnown(registered), true, 'a user this store created');
    });

    it('mirrors many ids in one statement, without a password, under a generated "#" username; a second call writes nothing', async () => {
      const manager = storeOf().dataSource.manager;
      const query = manager.query;
      const statements: string[] = [];
      manager.query = function(this: typeof manager, ...args: Parameters<typeof query>) {
        statements.push(args[0]);
        return query.apply(this, args);
      } as typeof query;
      try {
        await storeOf().users.ensureMany([ ...UUIDS, UUIDS[0] ]);
        assert.equal(statements.filter(sql => /INSERT/i.test(sql)).length, 1, statements.join('\n'));
        for (const id of UUIDS) {
          const user = await storeOf().users.findById(id);
          assert.equal(user?.username, `#${id}`);
          assert.equal(user?.passwordHash, null);
          assert.equal(await storeOf().users.exists(id), true);
        }
        statements.length = 0;
        await storeOf().users.ensureMany(UUIDS);
        assert.deepEqual(statements, [], 'known ids cost no query');
      } finally {
        manager.query = query;
      }
    });

    it('leaves a user that exists as it is (its username and password hash)', async () => {
      const id = await storeOf().users.create('mirror-existing', 'scrypt$hash');
      await storeOf().users.ensureMany([ id, UUIDS[0] ]);
      const user = await storeOf().users.findById(id);
      assert.equal(user?.username, 'mirror-existing');
      assert.equal(user?.passwordHash, 'scrypt$hash');
    });

    it('gives an id too long for the username column a hash of it as its name', async () => {
      await storeOf().users.ensureMany([ LONG_ID ]);
      const user = await storeOf().users.findById(LONG_ID);
      assert.equal(user?.username, `#${createHash('sha256').update(LONG_ID).digest('base64url')}`);
      assert.ok(user!.username.length <= 64);
    });

    it('ensure(userId) without a username mirrors like ensureMany; with one it keeps the given name', async () => {
      await storeOf().users.ensure('mirror-single');
      assert.equal((await storeOf().users.findById('mirror-single'))?.username, '#mirror-single');
      await storeOf().users.ensure('mirror-named', 'named@example.com');
      assert.equal((await storeOf().users.findById('mirror-named'))?.username, 'named@example.com');
    });

    it('many mirrors of the same ids at once all succeed, with one row each', async () => {
      const ids = Array.from({ length: 20 }, (_, i) => `mirror-race-${i}`);
      await Promise.all(Array.from({ length: 5 }, () => storeOf().users.ensureMany(ids)));
      const rows = await storeOf().dataSource.query(`SELECT id FROM im_users WHERE id LIKE 'mirror-race-%'`);
      assert.equal(rows.length, 20);
    });

    it('refuses a value that is not an id (VALIDATION_FAILED) and writes nothing', async () => {
      await expectImError(storeOf().users.ensureMany([ 'mirror-ok', 'padded ' ]), 'VALIDATION_FAILED');
      await expectImError(storeOf().users.ensureMany([ 'x'.repeat(129) ]), 'VALIDATION_FAILED');
      assert.equal(await storeOf().users.findById('mirror-ok'), null);
    });

    it('fails, naming the cause, when the generated username belongs to another user; the other ids are mirrored', async () => {
      await storeOf().users.create('#mirror-clash', null);
      const err = await rejectionOf(storeOf().users.ensureMany([ 'mirror-clash', 'mirror-fine' ]));
      assert.match(err.message, /^\[egg-im-store\] 1 of 2 users could not be mirrored/);
      assert.equal(await storeOf().users.exists('mirror-clash'), false);
      assert.equal(await storeOf().users.exists('mirror-fine'), true);
    });
  });
}
