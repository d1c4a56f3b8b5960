import assert from 'node:assert/strict';
import mm from 'egg-mock';
import { directConversationId } from '../lib/conversationIds';
import { shardOf, type AppendItem } from '../lib/repositories/MessageWriter';
import * as script from '../lib/sql/runScript';
import { drivers, storeOn } from './drivers';

const SENDER = 'wa';

/** Peers whose direct conversations with SENDER go to writer 0 (the first three) and to writer 1 (the last three). */
function peersOnBothWriters(): string[] {
  const byWriter: string[][] = [ [], [] ];
  for (let n = 0; byWriter.some(peers => peers.length < 3); n++) {
    const peer = `w${n}`;
    const peers = byWriter[shardOf(directConversationId(SENDER, peer), 2)];
    if (peers.length < 3) peers.push(peer);
  }
  return byWriter.flat();
}

function send(peer: string, clientMsgId: string): AppendItem {
  return {
    conversationId: directConversationId(SENDER, peer), kind: 'direct', directMemberIds: [ SENDER, peer ].sort(), senderId: SENDER, clientMsgId,
    type: 'text', contentJson: JSON.stringify({ text: clientMsgId }), metaJson: '{}',
  };
}

for (const driver of drivers) {
  describe(`egg-im-store: two message writers (write.shards 2) on ${driver.name}`, () => {
    const storeOf = storeOn(driver, 'writers', { scenario: 'two-writers' });
    const peers = peersOnBothWriters();
    afterEach(mm.restore);

    /** Counts the write transactions in flight at once while `fn` runs. */
    async function mostInFlight(fn: () => Promise<void>): Promise<number> {
      let inFlight = 0;
      let most = 0;
      const runScript = script.runScript;
      mm(script, 'runScript', async (...args: Parameters<typeof runScript>) => {
        most = Math.max(most, ++inFlight);
        try {
          return await runScript(...args);
        } finally {
          inFlight--;
        }
      });
      await fn();
      return most;
    }

    async function stored(peer: string): Promise<string[]> {
      const rows = await storeOf().dataSource.query('SELECT seq, client_msg_id FROM im_messages WHERE conversation_id = ? ORDER BY seq',
        [ directConversationId(SENDER, peer) ]);
      return rows.map((row: any) => `${row.client_msg_id}@${Number(row.seq)}`);
    }

    it('each conversation\'s messages keep their order and gapless seqs while both writers commit at once', async () => {
      const sent = new Map(peers.map(peer => [ peer, [] as string[] ]));
      const answers = new Map(peers.map(peer => [ peer, [] as string[] ]));
      const most = await mostInFlight(async () => {
        for (let round = 1; round <= 4; round++) {
          // One turn: each writer gets a batch of three conversations, three messages each.
          const items = peers.flatMap(peer => [ 1, 2, 3 ].map(k => send(peer, `r${round}-${peer}-${k}`)));
          const results = await Promise.all(items.map(item => storeOf().writer.append(item)));
          results.forEach(({ message, created }, i) => {
            const peer = peers[Math.floor(i / 3)];
            assert.equal(created, true);
            sent.get(peer)!.push(items[i].clientMsgId);
            answers.get(peer)!.push(`${message.clientMsgId}@${message.seq}`);
          });
        }
      });
      // Counted here are calls; on SQLite, whose one connection holds one transaction at a time, the second waits for
      // its turn inside the call (what the turns keep apart is tested in transactions.test.ts).
      if (driver.name === 'MariaDB') assert.equal(most, 2, 'the two writers\' transactions ran at the same time');
      for (const peer of peers) {
        const expected = sent.get(peer)!.map((id, i) => `${id}@${i + 1}`);
        assert.deepEqual(answers.get(peer), expected, `${peer}: each answer carries its seq, in the order sent`);
        assert.deepEqual(await stored(peer), expected, `${peer}: stored in the order sent, no gap`);
        const members = await storeOf().dataSource.query('SELECT user_id, read_seq FROM im_members WHERE conversation_id = ? ORDER BY user_id',
          [ directConversationId(SENDER, peer) ]);
        assert.deepEqual(members.map((row: any) => `${row.user_id}:${Number(row.read_seq)}`).sort(), [ `${peer}:0`, `${SENDER}:12` ].sort(),
          `${peer}: both member rows, the sender's read cursor at its last message`);
      }
    });

    it('a send repeated to conversations on the two writers at once is stored once; the other messages of both batches are stored', async () => {
      const [ first, second ] = [ peers[0], peers[3] ];
      const before = new Map([ [ first, (await stored(first)).length ], [ second, (await stored(second)).length ] ]);
      const items = [ send(first, 'same'), send(first, 'x1'), send(second, 'y1'), send(second, 'same'), send(second, 'y2') ];
      const results = await Promise.all(items.map(item => storeOf().writer.append(item)));
      const repeats = [ results[0], results[3] ];
      assert.equal(repeats.filter(r => r.created).length, 1, 'one of the two is stored');
      assert.equal(repeats[0].message.id, repeats[1].message.id, 'both answers carry the stored one');
      for (const i of [ 1, 2, 4 ]) assert.equal(results[i].created, true, items[i].clientMsgId);
      const [{ count }] = await storeOf().dataSource.query('SELECT COUNT(*) AS count FROM im_messages WHERE sender_id = ? AND client_msg_id = ?', [ SENDER, 'same' ]);
      assert.equal(Number(count), 1);
      // Each conversation's seqs run on with no gap (a refused batch left nothing behind).
      for (const peer of [ first, second ]) {
        const seqs = (await stored(peer)).map(entry => Number(entry.split('@')[1]));
        assert.deepEqual(seqs, seqs.map((_, i) => i + 1), peer);
      }
      assert.deepEqual((await stored(first)).slice(before.get(first)).map(entry => entry.split('@')[0]),
        repeats[0].created ? [ 'same', 'x1' ] : [ 'x1' ]);
      assert.deepEqual((await stored(second)).slice(before.get(second)).map(entry => entry.split('@')[0]),
        repeats[1].created ? [ 'y1', 'same', 'y2' ] : [ 'y1', 'y2' ]);
    });
  });
}
