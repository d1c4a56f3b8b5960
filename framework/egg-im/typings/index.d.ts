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
      /**
       * From SIGTERM: /readyz answers 503 `draining`, new connections are refused, the clients are told
       * `server:draining`; those still connected after drainMs are disconnected. Default 10000 (0 in unittest).
       */
      drainMs: number;
    };
  }
}

export = Egg;
