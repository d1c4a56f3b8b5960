import assert from 'node:assert/strict';
import { drivers, storeOn } from './drivers';
import { expectImError } from './helpers';

for (const driver of drivers) {
  describe(`egg-im-store: the user directory (searchByUsername, findUsernames) on ${driver.name}`, () => {
    const storeOf = storeOn(driver, 'directory');
    const ids = new Map<string, string>();

    before(async () => {
      // neighbours on both sides of the prefix, case and byte order (names compare byte for byte)
      for (const name of [ 'ann', 'anna', 'annabel', 'anne.b', 'Anna', 'anm', 'ano', 'an_n', 'bob' ]) {
        ids.set(name, await storeOf().users.create(name, null));
      }
    });

    it('finds the names that start with the prefix, exact one first, in byte order, bounded by limit', async () => {
      const names = async (prefix: string, limit: number) => (await storeOf().users.searchByUsername(prefix, limit)).map(u => u.username);
      assert.deepEqual(await names('ann', 10), [ 'ann', 'anna', 'annabel', 'anne.b' ]);
      assert.deepEqual(await names('ann', 2), [ 'ann', 'anna' ]);
      assert.deepEqual(await names('Ann', 10), [ 'Anna' ]);
      assert.deepEqual(await names('an_', 10), [ 'an_n' ], '"_" is a character, not a wildcard');
      assert.deepEqual(await names('annabel', 10), [ 'annabel' ]);
      assert.deepEqual(await names('annx', 10), []);
      const [ first ] = await storeOf().users.searchByUsername('bob', 1);
      assert.deepEqual(first, { id: ids.get('bob'), username: 'bob' });
    });

    it('finds usernames by id in the order given, once each, leaving unknown ids out', async () => {
      const found = await storeOf().users.findUsernames([ ids.get('bob')!, 'u_nobody', ids.get('ann')!, ids.get('bob')! ]);
      assert.deepEqual(found, [ { id: ids.get('bob'), username: 'bob' }, { id: ids.get('ann'), username: 'ann' } ]);
      assert.deepEqual(await storeOf().users.findUsernames([]), []);
      await expectImError(storeOf().users.findUsernames([ ' padded' ]), 'VALIDATION_FAILED');
      await expectImError(storeOf().users.searchByUsername('', 5), 'VALIDATION_FAILED');
    });
  });
}
