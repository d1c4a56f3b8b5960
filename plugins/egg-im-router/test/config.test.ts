import assert from 'node:assert';
import { checkConfig } from '../lib/checkConfig';
import defaults from '../config/config.default';

/** The router's defaults, with `change` applied to a copy. */
function withChange(change: (im: any) => void) {
  const im = structuredClone((defaults() as any).im);
  change(im);
  return im;
}

describe('egg-im-router: config checked at start', () => {
  it('accepts its defaults, without a warning', () => {
    assert.deepStrictEqual(checkConfig(withChange(() => undefined)), []);
  });

  it('warns about im.http.prefix, which is no longer read (the prefix is imConnection.http.prefix)', () => {
    assert.deepStrictEqual(checkConfig(withChange(im => { im.http = { prefix: '/chat' }; })),
      [ '[egg-im-router] im.http is no longer read: set imConnection.http.prefix instead' ]);
  });

  for (const [ name, change, message ] of [
    [ 'a limit of 0', (im: any) => { im.limits.maxValues = 0; }, /im\.limits\.maxValues must be an integer > 0, got 0/ ],
    [ 'a fractional limit', (im: any) => { im.limits.batchMax = 2.5; }, /im\.limits\.batchMax must be an integer > 0, got 2\.5/ ],
    [ 'a send limit below a full batch', (im: any) => { im.limits.sendsPerUser.points = 99; }, /im\.limits\.sendsPerUser\.points must be >= im\.limits\.batchMax \(100\)/ ],
    [ 'a missing send limit', (im: any) => { delete im.limits.sendsPerUser; }, /im\.limits\.sendsPerUser\.points must be an integer > 0, got undefined/ ],
    [ 'a missing group changes limit', (im: any) => { delete im.limits.groupChangesPerUser; }, /im\.limits\.groupChangesPerUser\.points must be an integer > 0, got undefined/ ],
    [ 'a backoff that shrinks', (im: any) => { im.delivery.backoffFactor = 0.5; }, /im\.delivery\.backoffFactor must be a number >= 1, got 0\.5/ ],
    [ 'a negative sweep interval', (im: any) => { im.delivery.outboxSweepMs = -1; }, /im\.delivery\.outboxSweepMs must be an integer >= 0, got -1/ ],
    [ 'an ack wait for the delivered cursor over a second', (im: any) => { im.delivery.deliveredInAckMs = 5000; }, /im\.delivery\.deliveredInAckMs must be at most 1000/ ],
    [ 'a negative ack wait', (im: any) => { im.delivery.deliveredInAckMs = -1; }, /im\.delivery\.deliveredInAckMs must be an integer >= 0, got -1/ ],
    [ 'an unanswered push kept without limit', (im: any) => { im.delivery.unansweredMaxMs = 0; }, /im\.delivery\.unansweredMaxMs must be an integer > 0, got 0/ ],
    [ 'unanswered pushes swept in a busy loop', (im: any) => { im.delivery.unansweredMaxMs = 10; }, /im\.delivery\.unansweredMaxMs must be at least 1000/ ],
    [ 'a window size that is not a number', (im: any) => { im.history.windowSize = '50'; }, /im\.history\.windowSize must be an integer >= 0, got "50"/ ],
    [ 'no members cache lifetime', (im: any) => { im.cache.membersTtlMs = 0; }, /im\.cache\.membersTtlMs must be an integer > 0, got 0/ ],
  ] as const) {
    it(`refuses ${name}, naming the option`, () => {
      assert.throws(() => checkConfig(withChange(change)), message);
    });
  }

});
