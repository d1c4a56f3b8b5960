import { ImError } from 'egg-im-protocol';

/** Device ids: 1 to 64 letters, digits, "_", ".", ":" or "-" (generated at login when the client gives none). */
const DEVICE_ID = /^[A-Za-z0-9_.:-]{1,64}$/;

/** The device id, or VALIDATION_FAILED (`details.field: 'deviceId'`). */
export function checkDeviceId(value: unknown): string {
  if (typeof value !== 'string' || !DEVICE_ID.test(value)) {
    throw new ImError('VALIDATION_FAILED', 'deviceId must be 1 to 64 letters, digits, "_", ".", ":" or "-"', { field: 'deviceId' });
  }
  return value;
}

/**
 * What a value the host application's function returned is, for a log line, without the value itself (it may
 * be anything, even a secret).
 */
export function describeValue(value: unknown): string {
  if (typeof value !== 'string') return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
  return `a string of ${value.length} characters that is not an id`;
}
