import type { Application, EggAppConfig } from 'egg';

/** What the router is given by the other plugins (their one API object each) and by Egg: the types of its collaborators. */
export type Store = Application['imStore'];
export type Cache = Application['imCache'];
export type Sockets = Application['imSockets'];
export type Sessions = Application['imSessions'];
/** What the message path reports to (egg-im-metrics): sends answered or refused, deliveries. */
export type Observer = Application['imMetrics']['messages'];
/** What the router's timers (outbox sweeper, history window flush, reorder wait) report each run to (egg-im-metrics). */
export type Timers = Application['imMetrics']['timers'];
export type ImConfig = EggAppConfig['im'];
export type Logger = Application['coreLogger'];
