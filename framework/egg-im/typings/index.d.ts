// The egg-im framework's types: egg's, augmented by each bundled plugin and by the framework itself.
import * as Egg from 'egg';
import 'egg-im-store';
import 'egg-im-cache';
import 'egg-im-connection';
import 'egg-im-router';
import type { Readiness } from '../lib/Readiness';

declare module 'egg' {
  interface Application {
    imReadiness: Readiness;
  }
  interface EggAppConfig {
    imHealth: {
      /** After SIGTERM, /readyz answers 503 for this long before connections close. */
      drainMs: number;
    };
  }
}

export = Egg;
