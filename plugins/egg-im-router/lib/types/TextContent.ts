import type { JsonObject } from 'egg-im-protocol';

/**
 * The built-in `text` type: `text` is a non-empty string; other keys are allowed and kept as sent.
 * A plain function rather than a class-validator class: every chat message goes through it.
 */
export function validateText(content: JsonObject): string[] {
  const { text } = content;
  if (typeof text !== 'string') return [ 'content.text must be a string' ];
  if (text.length === 0) return [ 'content.text should not be empty' ];
  return [];
}
