import * as egg from 'egg';
import { Application, Agent } from './lib/framework';

// A custom Egg framework: everything egg exports, with our Application and Agent in place of egg's.
Object.assign(exports, egg, { Application, Agent });
