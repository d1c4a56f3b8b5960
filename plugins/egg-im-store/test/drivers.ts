import fs from 'node:fs';
import path from 'node:path';
import mm, { type MockApplication } from 'egg-mock';
import { createTestDatabase, dropTestDatabase } from 'egg-im-testkit';
import { cleanFixture, makeTempDir } from './helpers';

/** One database of each kind the store supports, for tests that must hold on both. */
export interface TestDriver {
  name: 'SQLite' | 'MariaDB';
  setup(label: string): Promise<{ boot: () => MockApplication; cleanup: () => Promise<void> }>;
}

export const drivers: TestDriver[] = [
  {
    name: 'SQLite',
    async setup(label) {
      const dir = makeTempDir(label);
      return {
        boot: () => {
          mm(process.env, 'IM_DATABASE_URL', `sqlite:${path.join(dir, `${label}.sqlite`)}`);
          return mm.app({ baseDir: 'apps/sqlite', cache: false });
        },
        cleanup: async () => {
          fs.rmSync(dir, { recursive: true, force: true });
          cleanFixture('sqlite');
        },
      };
    },
  },
  {
    name: 'MariaDB',
    async setup(label) {
      const db = await createTestDatabase(label);
      return {
        boot: () => {
          mm(process.env, 'STORE_TEST_MYSQL_URL', db.url);
          return mm.app({ baseDir: 'apps/mysql', cache: false });
        },
        cleanup: async () => {
          await dropTestDatabase(db.name);
          cleanFixture('mysql');
        },
      };
    },
  },
];
