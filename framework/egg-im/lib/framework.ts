import path from 'node:path';
import * as egg from 'egg';
import { applyV8Flags } from './v8Flags';

// Before the app's code runs: egg-cluster's master, agent and workers each load the framework first.
applyV8Flags();

const EGG_PATH: unique symbol = Symbol.for('egg#eggPath');
const FRAMEWORK_ROOT = path.dirname(__dirname);

export class Application extends egg.Application {
  get [EGG_PATH](): string {
    return FRAMEWORK_ROOT;
  }
}

export class Agent extends egg.Agent {
  get [EGG_PATH](): string {
    return FRAMEWORK_ROOT;
  }
}
