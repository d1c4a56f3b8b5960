import assert from 'node:assert';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

/** The typings a TypeScript host app compiles against, checked by tsc (like egg-view's `ts` fixture). */
describe('typings', function() {
  this.timeout(120000);

  it('compile a TypeScript app on the framework, and reject misuse', () => {
    const tsc = require.resolve('typescript/bin/tsc');
    const result = spawnSync(process.execPath, [ tsc, '-p', path.join(__dirname, 'fixtures/apps/ts/tsconfig.json') ], { encoding: 'utf8' });
    assert.equal(result.status, 0, `${result.stdout}${result.stderr}`);
  });
});
