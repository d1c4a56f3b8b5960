import assert from 'node:assert/strict';
import mm from 'egg-mock';
import type { AppendItem } from '../lib/repositories/MessageWriter';
import * as script from '../lib/sql/runScript';
import { drivers, storeOn } from './drivers';

for (const driver of drivers) {
  describe(`egg-im-store: a write batch's statements are built once per shape, on ${driver.name}`, () => {
    const storeOf = storeOn(driver, 'texts');
    afterEach(mm.restore);

    const send = (conversationId: string, clientMsgId: string): AppendItem => ({
      conversationId, kind: 'group', groupId: conversationId.slice(2), senderId: 'ta', clientMsgId, type: 'text',
      contentJson: JSON.stringify({ text: clientMsgId }), metaJson: '{}',
    });

    it('batches of one shape share their text whatever order their messages came in; the seqs stay each conversation\'s', async () => {
      const groups: string[] = [];
      for (const n of [ 1, 2, 3 ]) groups.push((await storeOf().conversations.createGroup(`texts ${n}`, 'ta', [ 'tb' ])).conversationId);
      const [ g1, g2, g3 ] = groups;
      const texts: script.ScriptText[] = [];
      const runScript = script.runScript;
      mm(script, 'runScript', (...args: Parameters<typeof runScript>) => {
        texts.push(args[2]);
        return runScript(...args);
      });
      // One tick, one batch.
      const batch = (items: AppendItem[]) => Promise.all(items.map(item => storeOf().writer.append(item)));

      const first = await batch([ send(g1, 'a1'), send(g2, 'a2'), send(g3, 'a3') ]);
      const second = await batch([ send(g3, 'b3'), send(g1, 'b1'), send(g2, 'b2') ]);
      const third = await batch([ send(g2, 'c2'), send(g1, 'c1'), send(g1, 'c1+') ]);

      assert.equal(texts.length, 3, 'one script a batch');
      assert.equal(texts[1], texts[0], 'the same shape (three conversations, a message each) reuses the text');
      assert.notEqual(texts[2], texts[0], 'another shape has its own');
      assert.deepEqual([ ...first, ...second, ...third ].map(r => `${r.message.clientMsgId}@${r.message.seq}`),
        [ 'a1@1', 'a2@1', 'a3@1', 'b3@2', 'b1@2', 'b2@2', 'c2@3', 'c1@3', 'c1+@4' ], 'each answer carries its stored seq');
      for (const [ conversationId, expected ] of [ [ g1, [ 'a1', 'b1', 'c1', 'c1+' ] ], [ g2, [ 'a2', 'b2', 'c2' ] ], [ g3, [ 'a3', 'b3' ] ] ] as const) {
        const rows = await storeOf().dataSource.query('SELECT seq, client_msg_id FROM im_messages WHERE conversation_id = ? ORDER BY seq', [ conversationId ]);
        assert.deepEqual(rows.map((r: any) => `${r.client_msg_id}@${Number(r.seq)}`), expected.map((id, i) => `${id}@${i + 1}`), conversationId);
        const [ member ] = await storeOf().dataSource.query('SELECT read_seq FROM im_members WHERE conversation_id = ? AND user_id = ?', [ conversationId, 'ta' ]);
        assert.equal(Number(member.read_seq), expected.length, `${conversationId}: the sender has read what it sent`);
      }
    });
  });
}
