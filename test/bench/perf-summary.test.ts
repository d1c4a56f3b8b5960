import assert from 'node:assert';
import { categoryOf, compareCategories, formatComparison, inclusiveShare, parsePerfScript } from './lib/perfSamples';

/** A sample as `perf script -F ip,sym,dso` prints it: innermost frame first. */
const sample = (...frames: string[]) => `${frames.map((f, i) => `\t${(0xff00 + i).toString(16)} ${f} (/some/dso)`).join('\n')}\n\n`;

const write = [ 'tcp_sendmsg', 'do_syscall_64', '__GI___writev', 'node::StreamBase::Writev', 'JS:*Socket._writev node:net:964:36',
  'JS:*attempt /repo/plugins/egg-im-router/lib/delivery/Delivery.ts:314:12' ];
const mysqlWrite = [ 'tcp_sendmsg', '__GI___libc_write', 'node::StreamBase::WriteBuffer', 'JS:*writePacket /repo/node_modules/mysql2/lib/base/connection.js:378:14',
  'JS:^query /repo/plugins/egg-im-store/lib/sql/runScript.ts:41:15' ];
const mapLookup = [ 'Builtins_FindOrderedHashMapEntry', 'JS:*acknowledged /repo/plugins/egg-im-router/lib/delivery/Delivery.ts:343:17', 'Builtin:RunMicrotasks' ];
const parser = [ 'JS:*decodeString /repo/node_modules/socket.io-parser/build/cjs/index.js:178:17', 'JS:*dispatch /repo/plugins/egg-im-connection/lib/SocketServer.ts:294:19' ];
const escaper = [ 'JS:*escapeValue /repo/node_modules/sql-escaper/lib/index.js:601:21', 'JS:^query /repo/plugins/egg-im-store/lib/sql/runScript.ts:41:15' ];
const streams = [ 'Builtins_LoadIC', 'JS:*onwrite node:internal/streams/writable:615:17' ];
const scavenge = [ 'v8::internal::Scavenger::ScavengePage', 'v8::internal::ScavengerCollector::CollectGarbage', 'v8::internal::Heap::CollectGarbage',
  'JS:*emit /repo/node_modules/socket.io/dist/socket.js:164:9' ];
const helper = [ 'v8::internal::Scavenger::ScavengePage', 'node::(anonymous namespace)::PlatformWorkerThread', 'start_thread' ];
const epoll = [ 'finish_task_switch.isra.0', 'schedule', 'epoll_pwait', 'uv__io_poll', 'uv_run' ];

describe('on-CPU samples from perf (test/bench/lib/perfSamples.ts)', () => {
  it('reads perf script\'s blocks as stacks, innermost frame first, symbols with spaces and parentheses kept whole', () => {
    const stacks = parsePerfScript(sample(...write) + sample(...mapLookup));
    assert.deepStrictEqual(stacks, [ write, mapLookup ]);
    assert.deepStrictEqual(parsePerfScript(`${sample('a b (c)', 'main')}\n\n`), [ [ 'a b (c)', 'main' ] ]);
  });

  it('charges a sample to GC, to the system call below the innermost JavaScript frame, else to that frame\'s code', () => {
    assert.strictEqual(categoryOf(write), 'system call: writev (frames to clients)');
    assert.strictEqual(categoryOf(mysqlWrite), 'system call: write (MySQL, Redis)');
    assert.strictEqual(categoryOf(epoll), 'system call: epoll_pwait (waiting)');
    assert.strictEqual(categoryOf(mapLookup), 'egg-im code', 'the builtins an egg-im function calls are its own');
    assert.strictEqual(categoryOf(parser), 'socket.io, engine.io, ws');
    assert.strictEqual(categoryOf(escaper), 'package: sql-escaper');
    assert.strictEqual(categoryOf(streams), 'node\'s JavaScript');
    assert.strictEqual(categoryOf(scavenge), 'GC: main thread');
    assert.strictEqual(categoryOf(helper), 'GC: V8 helper threads');
    // a fault is the kernel's time whoever touched the page: the scavenger promoting into a fresh page, or JavaScript
    const fault = [ 'clear_page_erms', 'do_anonymous_page', 'handle_mm_fault', 'exc_page_fault', 'asm_exc_page_fault' ];
    assert.strictEqual(categoryOf([ ...fault, 'v8::internal::Scavenger::ScavengeObject', 'v8::internal::ScavengerCollector::CollectGarbage' ]),
      'page faults (memory touched the first time)');
    assert.strictEqual(categoryOf([ ...fault, 'JS:*push /repo/plugins/egg-im-router/lib/delivery/Delivery.ts:312:9' ]), 'page faults (memory touched the first time)');
    // a system call made above a JavaScript frame (in a callback it called) is that frame's, not the call's
    assert.strictEqual(categoryOf([ 'Builtins_LoadIC', 'JS:*cb /repo/plugins/egg-im-store/lib/x.ts:1:1', '__GI___libc_write' ]), 'egg-im code');
  });

  it('compares the processes as shares of one core, sorted by how much more the last one spent', () => {
    const relay = [ write, write, write, parser, parser, epoll ];
    const worker = [ write, mapLookup, mapLookup, mapLookup, escaper, parser, mysqlWrite ];
    // 10 samples a second for 1 second: each sample is 10 % of a core
    const { rows, totals } = compareCategories([ relay, worker ], 10, 1);
    assert.deepStrictEqual(totals, [ 60, 70 ]);
    assert.deepStrictEqual(rows[0], { category: 'egg-im code', core: [ 0, 30 ] });
    assert.deepStrictEqual(rows.at(-1), { category: 'system call: writev (frames to clients)', core: [ 30, 10 ] });
    assert.deepStrictEqual(rows.find(r => r.category === 'socket.io, engine.io, ws'), { category: 'socket.io, engine.io, ws', core: [ 20, 10 ] });
    const text = formatComparison([ 'relay', 'worker' ], { rows, totals });
    assert.match(text, /^egg-im code +0\.0 +30\.0 +30\.0$/m);
    assert.match(text, /^total +60\.0 +70\.0 +10\.0$/m);
    assert.strictEqual(inclusiveShare(worker, /runScript/, 10, 1), 20, 'the escaping and the write below the script');
  });
});
