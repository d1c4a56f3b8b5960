import assert from 'node:assert';
import { checkId, ID_MAX_LENGTH, ImError, isId } from '../index';

describe('egg-im-protocol ids', () => {
  it('accepts the shapes host apps use: UUIDs, e-mail addresses, numeric and namespaced ids, non-Latin scripts', () => {
    for (const id of [ '7d444840-9dc0-11d1-b245-5ffdce74fad2', 'ana@example.com', '42', 'tenant:42', 'u_1.x-y', 'Зоя', '李雷', 'a b', 'x'.repeat(ID_MAX_LENGTH), '😀' ]) {
      assert.ok(isId(id), JSON.stringify(id));
    }
  });

  it('refuses padded, empty, too long, control, format and lone-surrogate ids, and non-strings', () => {
    for (const id of [ '', 'X ', ' X', 'X\t', 'X\u00a0', '\u3000X', 'X\n', 'a\u0000b', 'a\u007fb', 'a\u0085b', 'a\u200bb', 'a\ufeffb',
      'a\u2028b', 'a\ud800b', 'x'.repeat(ID_MAX_LENGTH + 1), 42, null, undefined, [ 'a' ], { id: 'a' } ]) {
      assert.ok(!isId(id), JSON.stringify(id));
    }
  });

  it('checkId names the field and never echoes the value', () => {
    const value = `${'v'.repeat(5000)} `;
    assert.throws(() => checkId(value, 'to.id'), (err: ImError) => {
      assert.strictEqual(err.code, 'VALIDATION_FAILED');
      assert.deepStrictEqual(err.details, { field: 'to.id' });
      assert.ok(!err.message.includes('vvv') && err.message.length < 200, err.message);
      return true;
    });
    assert.strictEqual(checkId('ok', 'userId'), 'ok');
  });
});
