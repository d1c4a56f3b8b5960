import assert from 'node:assert';
import { jsonOnce, knownJson, parseOnce } from '../index';

describe('egg-im-protocol jsonOnce', () => {
  it('encodes a value once and gives every later caller that same text', () => {
    let reads = 0;
    const message = { id: 'm_1', get content() { reads++; return { text: 'hi' }; } };
    const text = jsonOnce(message);
    assert.equal(text, '{"id":"m_1","content":{"text":"hi"}}');
    assert.equal(jsonOnce(message), text);
    assert.equal(knownJson(message), text);
    assert.equal(reads, 1);
  });

  it('knows no text for a value it was never given, nor for primitives', () => {
    assert.equal(knownJson({ id: 'm_2' }), undefined);
    for (const value of [ undefined, null, 'text', 3, true ]) assert.equal(knownJson(value), undefined);
  });

  it('keeps the text out of sight: not in JSON, keys, spreads or deep equality; a copy has none; a frozen value is encoded each time', () => {
    const message = { id: 'm_5', content: { text: 'x' } };
    const text = jsonOnce(message);
    assert.equal(JSON.stringify(message), text);
    assert.deepStrictEqual(Object.keys(message), [ 'id', 'content' ]);
    assert.deepStrictEqual(message, { id: 'm_5', content: { text: 'x' } });
    assert.equal(knownJson({ ...message }), undefined);
    const frozen = Object.freeze({ id: 'm_6' });
    assert.equal(jsonOnce(frozen), '{"id":"m_6"}');
    assert.equal(knownJson(frozen), undefined);
  });

  it('keeps the text a value was parsed from, and a text given with the value', () => {
    const text = '{"id":"m_3","content":{"text":"a  b"}}';
    const parsed = parseOnce<{ id: string }>(text);
    assert.equal(parsed.id, 'm_3');
    assert.equal(knownJson(parsed), text);
    const given = { id: 'm_4' };
    assert.equal(jsonOnce(given, '{"id":"m_4"}'), '{"id":"m_4"}');
    assert.equal(jsonOnce(given, '{"other":true}'), '{"id":"m_4"}', 'the first text stays');
  });
});
