export interface DigestLogger {
  warn(message: string, ...args: unknown[]): void;
}

export interface DigestOptions {
  /** The interval, in ms. */
  everyMs?: number;
  /** Occurrences logged one line each at the start of an interval; those after them are counted. */
  linesPerInterval?: number;
}

/** Subjects named in a count's line at most: the line stays short whatever a client does. */
const SUBJECTS_NAMED = 5;

/**
 * A warning any client can cause as often as it likes (a refusal by a limit): the first `linesPerInterval`
 * occurrences of an interval are logged at once, one line each with its subject; those after them are counted,
 * and one line when the interval ends says how many there were and names a few of their subjects. So at most
 * `linesPerInterval + 1` lines per interval, however fast they come, and none left uncounted (the interval's
 * last line is written by a timer that does not hold the process open, or by `flush`).
 */
export class WarningDigest {
  private intervalStart = -Infinity;
  private lines = 0;
  private count = 0;
  private readonly subjects = new Set<string>();
  /** A subject was left unnamed (more than SUBJECTS_NAMED in the interval). */
  private unnamed = false;
  private timer?: NodeJS.Timeout;
  private readonly everyMs: number;
  private readonly linesPerInterval: number;

  /** @param what the lines' start, e.g. `[egg-im-connection] login throttled` */
  constructor(private readonly logger: DigestLogger, private readonly what: string, options: DigestOptions = {}) {
    this.everyMs = options.everyMs ?? 10_000;
    this.linesPerInterval = options.linesPerInterval ?? 10;
  }

  /** One occurrence; `subject` names who or what (ids and addresses, never secrets or message content). */
  add(subject: string): void {
    const now = Date.now();
    if (now - this.intervalStart >= this.everyMs) {
      this.flush();
      this.intervalStart = now;
      this.lines = 0;
    }
    if (this.lines < this.linesPerInterval) {
      this.lines++;
      this.logger.warn('%s: %s', this.what, subject);
      return;
    }
    this.count++;
    if (this.subjects.size < SUBJECTS_NAMED) this.subjects.add(subject);
    else if (!this.subjects.has(subject)) this.unnamed = true;
    if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), Math.max(0, this.intervalStart + this.everyMs - now));
      this.timer.unref();
    }
  }

  /** Writes the count of what was not logged line by line (the timer's, or a closing app's); nothing when nothing was. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.count === 0) return;
    this.logger.warn('%s: %d more in %d s, for %s%s', this.what, this.count, Math.round((Date.now() - this.intervalStart) / 1000),
      [ ...this.subjects ].join('; '), this.unnamed ? '; and others' : '');
    this.count = 0;
    this.subjects.clear();
    this.unnamed = false;
  }
}
