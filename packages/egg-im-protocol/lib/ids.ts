import { ImError } from './errors';

/** Longest id, in UTF-16 code units: a host app's UUIDs, e-mail addresses and numeric ids fit. */
export const ID_MAX_LENGTH = 128;

/**
 * Characters an id may not hold: control (Cc) and format (Cf, e.g. zero-width) characters, lone surrogates
 * (Cs: with the `u` flag a well-formed pair is one code point) and line or paragraph separators.
 */
const FORBIDDEN = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/u;
/** Leading or trailing whitespace: `"X "` must never be taken for `"X"` (MySQL's PAD SPACE collations do). */
const PADDED = /^\s|\s$/;

/**
 * The one id grammar of egg-im, for every user, group, conversation and message id in bodies, routes and
 * socket events: 1 to 128 characters, none of them a control or format character, no whitespace at either
 * end. Ids are compared exactly, everywhere: no trimming, case folding or Unicode normalization.
 */
export function isId(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= ID_MAX_LENGTH && !FORBIDDEN.test(value) && !PADDED.test(value);
}

/** The id, or VALIDATION_FAILED naming the field (the value itself is never echoed: it may be anything). */
export function checkId(value: unknown, field: string): string {
  if (!isId(value)) {
    throw new ImError('VALIDATION_FAILED', `${field} must be an id of 1 to ${ID_MAX_LENGTH} characters, without control characters or surrounding spaces`, { field });
  }
  return value;
}
