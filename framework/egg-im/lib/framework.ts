import path from 'node:path';
import * as egg from 'egg';

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
