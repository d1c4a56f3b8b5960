import assert from 'node:assert';
import type { ImConfig } from './ports';

type Rule = 'positive' | 'nonNegative' | 'atLeastOne';

function check(value: unknown, name: string, rule: Rule, integer = true): void {
  const ok = typeof value === 'number' && Number.isFinite(value) && (!integer || Number.isInteger(value))
    && (rule === 'positive' ? value > 0 : rule === 'atLeastOne' ? value >= 1 : value >= 0);
  const wanted = `${integer ? 'an integer' : 'a number'} ${rule === 'positive' ? '> 0' : rule === 'atLeastOne' ? '>= 1' : '>= 0'}`;
  assert(ok, `[egg-im-router] im.${name} must be ${wanted}, got ${JSON.stringify(value)}`);
}

/**
 * The router's whole part of `config.im`, checked once at start: a wrong value stops the app with an
 * `[egg-im-router] im.…` assertion instead of turning a limit off or a timer into a busy loop. Returns what
 * deserves a warning (a key that is no longer read).
 */
export function checkConfig(config: ImConfig): string[] {
  const { limits, delivery, history, cache, overload } = config;
  for (const name of [ 'payloadBytes', 'maxDepth', 'maxValues', 'batchMax', 'historyMaxLimit', 'syncMaxLimit', 'conversationsMaxLimit', 'responseBytes', 'groupMaxMembers' ] as const) {
    check(limits[name], `limits.${name}`, 'positive');
  }
  check(limits.sendsPerUser?.points, 'limits.sendsPerUser.points', 'positive');
  assert(limits.sendsPerUser.points >= limits.batchMax,
    `[egg-im-router] im.limits.sendsPerUser.points must be >= im.limits.batchMax (${limits.batchMax}): a full batch could never be sent, got ${limits.sendsPerUser.points}`);
  check(limits.sendsPerUser.durationMs, 'limits.sendsPerUser.durationMs', 'positive');
  check(limits.groupChangesPerUser?.points, 'limits.groupChangesPerUser.points', 'positive');
  check(limits.groupChangesPerUser.durationMs, 'limits.groupChangesPerUser.durationMs', 'positive');
  for (const name of [ 'ackTimeoutMs', 'maxBackoffMs', 'maxAttempts', 'replayLimit' ] as const) check(delivery[name], `delivery.${name}`, 'positive');
  check(delivery.backoffFactor, 'delivery.backoffFactor', 'atLeastOne', false);
  for (const name of [ 'reorderWaitMs', 'deliveredInAckMs', 'outboxSweepMs', 'outboxGraceMs' ] as const) check(delivery[name], `delivery.${name}`, 'nonNegative');
  check(delivery.unansweredMaxMs, 'delivery.unansweredMaxMs', 'positive');
  assert(delivery.unansweredMaxMs >= 1000,
    `[egg-im-router] im.delivery.unansweredMaxMs must be at least 1000: sockets are swept every third of it, got ${delivery.unansweredMaxMs}`);
  assert(delivery.deliveredInAckMs <= 1000,
    `[egg-im-router] im.delivery.deliveredInAckMs must be at most 1000: a sender's ack waits that long, got ${delivery.deliveredInAckMs}`);
  check(history.windowSize, 'history.windowSize', 'nonNegative');
  check(history.idleTtlMs, 'history.idleTtlMs', 'positive');
  check(history.writeLingerMs, 'history.writeLingerMs', 'nonNegative');
  check(cache.membersTtlMs, 'cache.membersTtlMs', 'positive');
  check(overload.maxInFlight, 'overload.maxInFlight', 'nonNegative');
  assert(overload.maxInFlight === 0 || overload.maxInFlight >= limits.batchMax,
    `[egg-im-router] im.overload.maxInFlight must be 0 (no limit) or an integer >= im.limits.batchMax (${limits.batchMax}), got ${overload.maxInFlight}`);
  check(overload.retryAfterMs, 'overload.retryAfterMs', 'positive');
  check(config.hooks?.timeoutMs, 'hooks.timeoutMs', 'positive');
  assert(config.hooks.onError === 'refuse' || config.hooks.onError === 'continue',
    `[egg-im-router] im.hooks.onError must be 'refuse' or 'continue', got ${JSON.stringify(config.hooks.onError)}`);
  // Moved to egg-im-connection, which owns the HTTP surface: a value left here would be silently ignored.
  return 'http' in config ? [ '[egg-im-router] im.http is no longer read: set imConnection.http.prefix instead' ] : [];
}
