import assert from 'node:assert';
import { IsString } from 'class-validator';
import mm from 'egg-mock';
import { arrival, Harness, payloadOf } from './support/harness';

describe('egg-im-router: custom message types registered in code (app.im.messageTypes.register)', () => {
  const h = new Harness('types-api');
  before(() => h.start());
  after(() => h.close());

  it('types registered in the app\'s boot are used: valid content is delivered as sent, invalid refused with details', async () => {
    assert.deepStrictEqual([ ...h.app.im.messageTypes.keys() ].sort(), [ 'dice', 'sticker', 'text' ]);
    const alice = await h.user('alice');
    const bob = await h.user('bob');
    const a = await h.socket(alice);
    const bobInbox = (await h.online(bob)).inbox;
    const to = { type: 'user' as const, id: bob.userId };

    const roll = await h.send(a, { to, type: 'dice', content: { value: 6, die: 'd6', luck: [ '🍀', null ] }, meta: { game: 'g1' }, clientMsgId: h.clientMsgId() });
    assert.equal(roll.ok, true, JSON.stringify(roll));
    const pushed = await arrival(bobInbox, roll.message.id);
    assert.equal(payloadOf(pushed), JSON.stringify({ type: 'dice', content: { value: 6, die: 'd6', luck: [ '🍀', null ] }, meta: { game: 'g1' } }));
    const sticker = await h.send(a, { to, type: 'sticker', content: { stickerId: 'cat_01' }, clientMsgId: h.clientMsgId() });
    assert.equal(sticker.ok, true);

    const badRoll = await h.send(a, { to, type: 'dice', content: { value: 7, die: 'd6' }, clientMsgId: h.clientMsgId() });
    assert.equal(badRoll.error.code, 'VALIDATION_FAILED');
    assert.equal(badRoll.error.details.type, 'dice');
    assert.match(badRoll.error.details.problems.join('\n'), /content\.value/);
    const stringRoll = await h.send(a, { to, type: 'dice', content: { value: '6', die: 'd6' }, clientMsgId: h.clientMsgId() });
    assert.equal(stringRoll.error.code, 'VALIDATION_FAILED', 'never converted implicitly');
    const badSticker = await h.send(a, { to, type: 'sticker', content: { stickerId: 'Cat!' }, clientMsgId: h.clientMsgId() });
    assert.deepStrictEqual(badSticker.error, {
      code: 'VALIDATION_FAILED', message: 'content.stickerId must be 1 to 40 of a-z, 0-9, "_" or "-"',
      details: { type: 'sticker', problems: [ 'content.stickerId must be 1 to 40 of a-z, 0-9, "_" or "-"' ] },
    });
    // Not registered here: `location` exists only in the other fixture.
    assert.equal((await h.send(a, { to, type: 'location', content: { lat: 1, lng: 2 }, clientMsgId: h.clientMsgId() })).error.code, 'UNKNOWN_MESSAGE_TYPE');
  });

  it('the registry refuses bad registrations: duplicates, bad names, no validator, set() goes through register()', async () => {
    const types = h.app.im.messageTypes;
    class Named {
      @IsString()
      name!: string;
    }
    assert.throws(() => types.register('dice', { schema: Named }), /\[egg-im-router\] message type "dice" is already registered/);
    assert.throws(() => types.register('text', { schema: Named }), /already registered/);
    assert.throws(() => types.register('bad name', { schema: Named }), /\[egg-im-router\] message type name must match/);
    assert.throws(() => types.register('', { schema: Named }), /name must match/);
    assert.throws(() => types.register('empty', {}), /needs a class-validator `schema` class or a `validate` function/);
    assert.throws(() => types.register('notaclass', { schema: {} as any }), /`schema` must be a class/);
    assert.throws(() => types.set('dice', { schema: Named }), /already registered/);
    types.set('named', { schema: Named });
    await types.check('named', { name: 'x' });
    await assert.rejects(types.check('named', { name: 1 }), (err: any) => err.code === 'VALIDATION_FAILED');
    await assert.rejects(types.check('nope', {}), (err: any) => err.code === 'UNKNOWN_MESSAGE_TYPE');
    // A registered definition cannot be changed afterwards.
    assert.ok(Object.isFrozen(types.get('named')));
    types.delete('named');
  });

  it('checkNow checks a synchronous validator at once and gives the pending check for the others; check always answers with a promise', async () => {
    const types = h.app.im.messageTypes;
    assert.equal(types.checkNow('text', { text: 'hi' }), undefined);
    assert.equal(types.checkNow('sticker', { stickerId: 'cat' }), undefined);
    assert.throws(() => types.checkNow('text', { text: '' }), (err: any) => err.code === 'VALIDATION_FAILED' && err.details.type === 'text');
    assert.throws(() => types.checkNow('nope', {}), (err: any) => err.code === 'UNKNOWN_MESSAGE_TYPE');
    const roll = types.checkNow('dice', { value: 9, die: 'd6' });
    assert.ok(roll instanceof Promise, 'a schema is checked by class-validator, asynchronously');
    await assert.rejects(roll, (err: any) => err.code === 'VALIDATION_FAILED' && /content\.value/.test(err.message));
    await types.checkNow('dice', { value: 2, die: 'd6' });
    types.register('later', { validate: async content => (content.ok === true ? [] : [ 'content.ok must be true' ]) });
    try {
      const later = types.checkNow('later', { ok: false });
      assert.ok(later instanceof Promise);
      await assert.rejects(later, (err: any) => err.code === 'VALIDATION_FAILED' && err.message === 'content.ok must be true');
      await types.checkNow('later', { ok: true });
    } finally {
      types.delete('later');
    }
    // The public check keeps its contract: a promise, rejected (never a synchronous throw).
    const unknown = types.check('nope', {});
    assert.ok(unknown instanceof Promise);
    await assert.rejects(unknown, (err: any) => err.code === 'UNKNOWN_MESSAGE_TYPE');
    await assert.rejects(types.check('text', {}), (err: any) => err.code === 'VALIDATION_FAILED');
  });

  it('a text to a user known to exist reaches the writer in the call that sends it; other sends wait for their checks', async () => {
    const alice = await h.user('alice');
    const bob = await h.user('bob');
    const appended: string[] = [];
    const ensured: string[][] = [];
    const { writer } = h.app.imStore;
    const append = writer.append.bind(writer);
    mm(writer, 'append', (item: any) => {
      appended.push(item.type);
      return append(item);
    });
    const ensureUsers = h.app.imSessions.ensureUsers.bind(h.app.imSessions);
    mm(h.app.imSessions, 'ensureUsers', (ids: string[]) => {
      ensured.push(ids);
      return ensureUsers(ids);
    });
    try {
      const to = { type: 'user' as const, id: bob.userId };
      const text = h.app.im.send({ from: alice.userId, to, type: 'text', content: { text: 'at once' } });
      assert.deepStrictEqual(appended, [ 'text' ], 'appended before send() returned');
      const dice = h.app.im.send({ from: alice.userId, to, type: 'dice', content: { value: 3, die: 'd6' } });
      assert.deepStrictEqual(appended, [ 'text' ], 'a schema type is checked first');
      const [ sentText, sentDice ] = await Promise.all([ text, dice ]);
      assert.deepStrictEqual(appended, [ 'text', 'dice' ]);
      assert.equal(sentDice.seq, sentText.seq + 1);
      assert.deepStrictEqual(ensured, [], 'a known recipient is not looked up');
      await assert.rejects(h.app.im.send({ from: alice.userId, to: { type: 'user', id: 'nobody_here' }, type: 'text', content: { text: 'x' } }),
        (err: any) => err.code === 'NOT_FOUND');
      assert.deepStrictEqual(ensured, [ [ 'nobody_here' ] ], 'an id not known here is asked for');
      assert.deepStrictEqual(appended, [ 'text', 'dice' ]);
    } finally {
      mm.restore();
    }
  });
});
