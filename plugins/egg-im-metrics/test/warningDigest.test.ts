import assert from 'node:assert';
import { WarningDigest } from '../lib/WarningDigest';

function recorder() {
  const lines: string[] = [];
  const logger = { warn: (format: string, ...args: unknown[]) => {
    let i = 0;
    lines.push(format.replace(/%[sd]/g, () => String(args[i++])));
  } };
  return { lines, logger };
}

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

describe('egg-im-metrics: WarningDigest (warnings a client can cause at will)', () => {
  it('logs the first of an interval line by line, then one line that counts the rest and names a few subjects', async () => {
    const { lines, logger } = recorder();
    const digest = new WarningDigest(logger, '[x] refused', { everyMs: 200, linesPerInterval: 2 });
    digest.add('user a');
    digest.add('user b');
    assert.deepStrictEqual(lines, [ '[x] refused: user a', '[x] refused: user b' ]);
    for (let i = 0; i < 1000; i++) digest.add(`user ${i % 8}`);
    assert.strictEqual(lines.length, 2, 'nothing more within the interval, however many');
    await sleep(300);
    assert.strictEqual(lines.length, 3);
    assert.strictEqual(lines[2], '[x] refused: 1000 more in 0 s, for user 0; user 1; user 2; user 3; user 4; and others');
    await sleep(300);
    assert.strictEqual(lines.length, 3, 'no line when nothing was counted');
    digest.add('user z');
    assert.deepStrictEqual(lines.slice(3), [ '[x] refused: user z' ], 'a new interval: line by line again');
  });

  it('flush writes what is counted now, once', () => {
    const { lines, logger } = recorder();
    const digest = new WarningDigest(logger, '[x] throttled', { linesPerInterval: 1 });
    digest.add('1.2.3.4');
    digest.add('1.2.3.4');
    digest.add('1.2.3.4');
    digest.flush();
    digest.flush();
    assert.deepStrictEqual(lines, [ '[x] throttled: 1.2.3.4', '[x] throttled: 2 more in 0 s, for 1.2.3.4' ]);
  });
});
