import assert from 'node:assert';
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..');

/** The guides whose code is printed from files that tests run. */
const GUIDES = [ 'docs/getting-started.md', 'docs/hooks.md' ];
/** Code, as opposed to shell commands (those are what `npm start`, `npm test` and the packaging test run). */
const CODE = new Set([ 'ts', 'typescript', 'js', 'json' ]);
/** Where a snippet's file may live: somewhere a test loads it from. */
const TESTED = /^(test\/|examples\/[^/]+\/|(plugins|packages|framework)\/[^/]+\/test\/)/;

interface Snippet { guide: string; line: number; source: string | undefined; code: string }

/** Every fenced code block of a guide, with the `<!-- snippet: path[#region] -->` line above it, if any. */
function snippetsOf(guide: string): Snippet[] {
  const lines = fs.readFileSync(path.join(ROOT, guide), 'utf8').split('\n');
  const out: Snippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    const fence = /^```(\w*)\s*$/.exec(lines[i]);
    if (!fence) continue;
    const end = lines.indexOf('```', i + 1);
    assert(end > i, `${guide}:${i + 1}: a code block that does not end`);
    if (CODE.has(fence[1])) {
      let above = i - 1;
      while (above >= 0 && lines[above].trim() === '') above--;
      const source = /^<!-- snippet: (\S+) -->$/.exec(lines[above] ?? '')?.[1];
      out.push({ guide, line: i + 1, source, code: lines.slice(i + 1, end).join('\n') });
    }
    i = end;
  }
  return out;
}

/** The lines of a file between `// #region name` and `// #endregion`, without the common indent; the whole file without a name. */
function sourceOf(reference: string): string {
  const [ file, region ] = reference.split('#');
  const text = fs.readFileSync(path.join(ROOT, file), 'utf8').replace(/\n$/, '');
  if (!region) return text;
  const lines = text.split('\n');
  const start = lines.findIndex(line => line.trim() === `// #region ${region}`);
  assert(start >= 0, `${file} has no region ${region}`);
  const end = lines.findIndex((line, i) => i > start && line.trim() === '// #endregion');
  assert(end > start, `${file}: region ${region} does not end`);
  const body = lines.slice(start + 1, end);
  const indent = Math.min(...body.filter(line => line.trim()).map(line => line.length - line.trimStart().length));
  return body.map(line => line.slice(indent)).join('\n');
}

describe('the guides\' code is the code the tests run', () => {
  for (const guide of GUIDES) {
    describe(guide, () => {
      const snippets = snippetsOf(guide);

      it('has code to check', () => {
        assert(snippets.length > 0);
      });

      for (const snippet of snippets) {
        it(`line ${snippet.line}: ${snippet.source ?? '(no source)'}`, () => {
          assert(snippet.source, `${guide}:${snippet.line}: a code block without a <!-- snippet: path#region --> line above it`);
          assert.match(snippet.source, TESTED, `${guide}:${snippet.line}: ${snippet.source} is not where a test runs it`);
          assert.equal(snippet.code, sourceOf(snippet.source), `${guide}:${snippet.line}: the block differs from ${snippet.source}`);
        });
      }
    });
  }

  it('reads a region without its markers and its indent, and refuses one that is not there', () => {
    const file = 'test/fixtures/apps/host-app/config/config.default.ts';
    assert.match(sourceOf(`${file}#config`), /^imConnection: \{\n {2}\/\/ the app's own tokens/);
    assert.doesNotMatch(sourceOf(`${file}#config`), /#(end)?region/);
    assert.throws(() => sourceOf(`${file}#no-such-region`), /has no region/);
  });
});
