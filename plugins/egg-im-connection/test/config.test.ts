import assert from 'node:assert';
import { startFixture } from './support/fixture';

/** Starts the bad-config fixture with `imConnection` overridden by `bad`; resolves with the start's error. */
async function startWith(bad: object): Promise<void> {
  process.env.IM_CONN_TEST_BAD_CONFIG = JSON.stringify(bad);
  try {
    await startFixture('bad-config');
  } finally {
    delete process.env.IM_CONN_TEST_BAD_CONFIG;
  }
}

describe('egg-im-connection: config checked at start', () => {
  for (const [ label, bad, message ] of [
    [ 'a login limit of 0 points', { auth: { throttle: { perAccount: { points: 0, durationMs: 60_000 } } } },
      /\[egg-im-connection\] config\.imConnection\.auth\.throttle\.perAccount\.points must be a positive integer, got 0/ ],
    [ 'a registration limit of 0 points', { auth: { throttle: { registrationsPerIp: { points: 0, durationMs: 60_000 } } } },
      /\[egg-im-connection\] config\.imConnection\.auth\.throttle\.registrationsPerIp\.points must be a positive integer, got 0/ ],
    [ 'a login window that is not whole seconds', { auth: { throttle: { perIp: { points: 5, durationMs: 1500 } } } },
      /\[egg-im-connection\] config\.imConnection\.auth\.throttle\.perIp\.durationMs must be a whole number of seconds/ ],
    [ 'a per-user request burst of 0', { userRateLimit: { burst: 0, perSecond: 100 } },
      /\[egg-im-connection\] config\.imConnection\.userRateLimit\.burst must be a positive integer, got 0/ ],
    [ 'a per-connection refill of 0', { rateLimit: { burst: 200, perSecond: 0 } },
      /\[egg-im-connection\] config\.imConnection\.rateLimit\.perSecond must be a number above 0, got 0/ ],
    [ 'a socket cap of 0', { socket: { maxPerUser: 0 } },
      /\[egg-im-connection\] config\.imConnection\.socket\.maxPerUser must be a positive integer, got 0/ ],
    [ 'an unknown presence scope', { presence: { visibleTo: 'friends' } },
      /\[egg-im-connection\] config\.imConnection\.presence\.visibleTo must be 'contacts' or 'everyone', got "friends"/ ],
    [ 'a directory switch that is not a boolean', { directory: { enabled: 'no' } },
      /\[egg-im-connection\] config\.imConnection\.directory\.enabled must be true or false, got "no"/ ],
    [ 'a confirmation settle time of 0', { nodes: { confirmAfterMs: 0 } },
      /\[egg-im-connection\] config\.imConnection\.nodes\.confirmAfterMs must be a positive integer, got 0/ ],
    [ 'an HTTP prefix with a trailing slash', { http: { prefix: '/im/' } },
      /\[egg-im-connection\] config\.imConnection\.http\.prefix must be a path such as "\/im" .*got "\/im\/"/ ],
    [ 'an empty HTTP prefix', { http: { prefix: '' } }, /config\.imConnection\.http\.prefix must be a path/ ],
    [ 'a session cap that is not an integer', { session: { maxPerUser: 2.5 } },
      /\[egg-im-connection\] config\.imConnection\.session\.maxPerUser must be a positive integer, got 2\.5/ ],
    [ 'a token verifier that is not a function', { auth: { verifyToken: 'jwt' } },
      /\[egg-im-connection\] config\.imConnection\.auth\.verifyToken must be a function \(or unset\), got string/ ],
    [ 'a userExists that is not a function', { auth: { userExists: true } },
      /\[egg-im-connection\] config\.imConnection\.auth\.userExists must be a function \(or unset\), got boolean/ ],
    [ 'a negative token cache time', { auth: { tokenCache: { ttlMs: -1 } } },
      /\[egg-im-connection\] config\.imConnection\.auth\.tokenCache\.ttlMs must be an integer of 0 or more, got -1/ ],
    [ 'a token cache of 0 entries', { auth: { tokenCache: { max: 0 } } },
      /\[egg-im-connection\] config\.imConnection\.auth\.tokenCache\.max must be a positive integer, got 0/ ],
  ] as const) {
    it(`refuses to start with ${label}, naming the option`, async () => {
      await assert.rejects(startWith(bad), message);
    });
  }
});
