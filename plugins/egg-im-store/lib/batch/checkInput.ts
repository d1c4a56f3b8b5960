/**
 * Checks of the values a batched writer binds into a shared statement. A value of the wrong kind must fail
 * its own item, before it joins a batch: mysql2 writes NaN as a bare `NaN` (an unknown column to the server)
 * and expands an object into `key = value` pairs, which would fail or change the statement of every item.
 * The messages name the field, never the value (it may be anything, a message body included).
 */
export function invalidText(value: unknown, field: string): Error | undefined {
  return typeof value === 'string' ? undefined : new TypeError(`[egg-im-store] ${field} must be a string (got ${kindOf(value)})`);
}

/** A seq or a count: a safe integer, at least `least`. */
export function invalidCount(value: unknown, field: string, least = 0): Error | undefined {
  return Number.isSafeInteger(value) && (value as number) >= least
    ? undefined
    : new RangeError(`[egg-im-store] ${field} must be an integer >= ${least} (got ${typeof value === 'number' ? String(value) : kindOf(value)})`);
}

/** The first error of a list of checks. */
export function firstInvalid(...checks: Array<Error | undefined>): Error | undefined {
  return checks.find(check => check !== undefined);
}

function kindOf(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
}
