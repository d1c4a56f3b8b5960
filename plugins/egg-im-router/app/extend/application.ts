import type { Application } from 'egg';
import { Im } from '../../lib/Im';

const IM = Symbol('Application#im');

export default {
  /** Created on first use, so any plugin may register message types whatever the load order. */
  get im(): Im {
    const app = this as unknown as Application & { [IM]?: Im };
    if (!app[IM]) app[IM] = new Im();
    return app[IM];
  },
};
