import { isImError } from 'egg-im-protocol';
import { transientKind } from '../dbErrors';

/**
 * Runs a shared batch with `run`; when it fails for a reason that may belong to one item (a value the
 * database refuses, a duplicate key that persists: anything neither transient nor an `ImError`), runs its
 * halves apart, in order and recursively, so that each offender fails alone with its own error while the
 * other items are written. The first run is the usual single batch: nothing changes while nothing fails.
 *
 * A failure shared by every item (the database unavailable, past `withRetry`'s budget) fails the whole
 * batch, as it always did; once halves run apart, it fails the half that met it and the halves after it (unrun),
 * not the halves written.
 */
export async function runIsolatingFailures<I, O>(items: I[], run: (batch: I[]) => Promise<O[]>): Promise<Array<O | Error>> {
  try {
    return await run(items);
  } catch (err) {
    if (items.length === 1 || !mayBelongToOneItem(err)) throw err;
    return splitAndRun(items, run);
  }
}

async function runApart<I, O>(items: I[], run: (batch: I[]) => Promise<O[]>): Promise<Array<O | Error>> {
  try {
    return await run(items);
  } catch (err) {
    if (items.length === 1 || !mayBelongToOneItem(err)) return items.map(() => asError(err));
    return splitAndRun(items, run);
  }
}

async function splitAndRun<I, O>(items: I[], run: (batch: I[]) => Promise<O[]>): Promise<Array<O | Error>> {
  const middle = Math.ceil(items.length / 2);
  // One half after the other: a conversation's messages keep their order (and their seqs). A failure the first half
  // met that is every item's (the store unavailable) fails the second half unrun: written now, it would come before
  // the first half's items once those are sent again.
  const first = await runApart(items.slice(0, middle), run);
  const shared = first.find((result): result is Error => result instanceof Error && !mayBelongToOneItem(result));
  const second = shared ? items.slice(middle).map(() => shared) : await runApart(items.slice(middle), run);
  return [ ...first, ...second ];
}

function mayBelongToOneItem(err: unknown): boolean {
  return !isImError(err) && transientKind(err) === null;
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(`[egg-im-store] ${String(err)}`);
}
