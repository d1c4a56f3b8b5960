import assert from 'node:assert';
import path from 'node:path';
import { ESLint } from 'eslint';

const ROOT = path.join(__dirname, '..', '..', '..');
const BOUNDARY_RULES = new Set([ '@typescript-eslint/no-restricted-imports', 'no-restricted-syntax' ]);

/**
 * The boundary rules ESLint (with the repository's eslint.config.js) reports for `code`, as if it were the file
 * `file` (a parse error is reported too: it would hide everything else).
 */
async function violations(file: string, code: string): Promise<string[]> {
  const eslint = new ESLint({ cwd: ROOT });
  const [ result ] = await eslint.lintText(code, { filePath: path.join(ROOT, file) });
  return result.messages.map(m => m.ruleId ?? `fatal: ${m.message}`).filter(id => BOUNDARY_RULES.has(id) || id.startsWith('fatal'));
}

/** The lint rules that keep the plugins apart: each uses the others' API only, and the cache's Redis client stays in the cache. */
describe('lint: the boundaries between the packages', function() {
  this.timeout(60000);

  it('refuses an import of another package\'s files, in source and in tests', async () => {
    const imports = [
      "import type { ImCache } from 'egg-im-cache/lib/ImCache';",
      "import { SocketServer } from 'egg-im-connection/lib/SocketServer';",
      "import handler from 'egg-im-connection/app/middleware/imErrorHandler';",
      "export { toMessage } from 'egg-im-store/lib/repositories/rows';",
    ];
    for (const line of imports) {
      assert.deepStrictEqual(await violations('plugins/egg-im-router/lib/Example.ts', line), [ '@typescript-eslint/no-restricted-imports' ], line);
      assert.deepStrictEqual(await violations('plugins/egg-im-router/test/example.test.ts', line), [ '@typescript-eslint/no-restricted-imports' ], line);
    }
    assert.deepStrictEqual(await violations('examples/chat/app.ts', imports[0]), [ '@typescript-eslint/no-restricted-imports' ]);
  });

  it('allows a package\'s entry point and typings, and the testkit\'s own modules in tests', async () => {
    const code = "import type { ImCache } from 'egg-im-cache';\nimport { ImError } from 'egg-im-protocol';\nexport type T = [ ImCache, ImError ];\n";
    assert.deepStrictEqual(await violations('plugins/egg-im-router/lib/Example.ts', code), []);
    const testkit = "import { keysUnder } from 'egg-im-testkit/lib/redisKeys';\nexport const k = keysUnder;\n";
    assert.deepStrictEqual(await violations('plugins/egg-im-router/test/example.test.ts', testkit), []);
    assert.deepStrictEqual(await violations('plugins/egg-im-router/lib/Example.ts', testkit), [ '@typescript-eslint/no-restricted-imports' ]);
  });

  it('refuses the cache\'s Redis client outside egg-im-cache', async () => {
    const uses = [
      'export const f = (app: any) => app.imCache.redis;',
      'export const f = (app: any) => app.imCache?.redis?.duplicate();',
      'export class C { constructor(private readonly cache: any) {} f() { return this.cache.redis; } }',
      'export const f = (imCache: any) => imCache.redis;',
      "export const f = (app: any) => app.imCache['redis'];",
      'export const f = (app: any) => { const { redis } = app.imCache; return redis; };',
    ];
    for (const code of uses) {
      assert.deepStrictEqual(await violations('plugins/egg-im-connection/lib/Example.ts', code), [ 'no-restricted-syntax' ], code);
      assert.deepStrictEqual(await violations('framework/egg-im/lib/Example.ts', code), [ 'no-restricted-syntax' ], code);
      assert.deepStrictEqual(await violations('plugins/egg-im-cache/lib/Example.ts', code), [], `${code} (in the cache itself)`);
    }
    // other things called redis are not the cache's
    assert.deepStrictEqual(await violations('plugins/egg-im-connection/lib/Example.ts', 'export const f = (services: any) => services.redis;'), []);
  });

  it('refuses app lookups inside the router\'s message path, and only there', async () => {
    for (const code of [ 'export const f = (app: any) => app.im.pipeline;', 'export class P { app: any; f() { return this.app.imStore; } }' ]) {
      assert.deepStrictEqual(await violations('plugins/egg-im-router/lib/Example.ts', code), [ 'no-restricted-syntax' ], code);
      assert.deepStrictEqual(await violations('plugins/egg-im-router/app.ts', code), [], code);
    }
  });
});
