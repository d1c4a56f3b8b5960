import fs from 'node:fs';
import path from 'node:path';
import mm, { type MockApplication } from 'egg-mock';
import type { ImStore } from '../lib/ImStore';
import { createTestDatabase, dropTestDatabase } from 'egg-im-testkit';
import { cleanFixture, makeTempDir } from './helpers';

export interface TestDatabase {
  /**
   * Boots a fixture app on this database: `apps/sqlite` or `apps/mysql` by default, or `scenario`, whose config
   * leaves the url to the plugin's default (IM_DATABASE_URL).
   */
  boot: (scenario?: string) => MockApplication;
  /** Drops the database and cleans the fixtures booted. */
  cleanup: () => Promise<void>;
}

/** One database of each kind the store supports, for tests that must hold on both. */
export interface TestDriver {
  name: 'SQLite' | 'MariaDB';
  setup(label: string): Promise<TestDatabase>;
}

function onUrl(url: string, fixture: string, drop: () => Promise<void>): TestDatabase {
  const booted = new Set<string>();
  return {
    boot: (scenario = fixture) => {
      booted.add(scenario);
      mm(process.env, 'IM_DATABASE_URL', url);
      mm(process.env, 'STORE_TEST_MYSQL_URL', url);
      return mm.app({ baseDir: `apps/${scenario}`, cache: false });
    },
    cleanup: async () => {
      await drop();
      for (const scenario of booted) cleanFixture(scenario);
    },
  };
}

export const drivers: TestDriver[] = [
  {
    name: 'SQLite',
    async setup(label) {
      const dir = makeTempDir(label);
      return onUrl(`sqlite:${path.join(dir, `${label}.sqlite`)}`, 'sqlite', async () => fs.rmSync(dir, { recursive: true, force: true }));
    },
  },
  {
    name: 'MariaDB',
    async setup(label) {
      const db = await createTestDatabase(label);
      return onUrl(db.url, 'mysql', () => dropTestDatabase(db.name));
    },
  },
];

/**
 * For the tests of the `describe` it is called in: boots the driver's fixture app (or `options.scenario`, see
 * `TestDatabase.boot`) on a database of its own before them (then runs `options.seed`), closes it and drops the
 * database after them. Returns the store's getter.
 */
export function storeOn(driver: TestDriver, label: string, options: { seed?: (store: ImStore) => Promise<void>; scenario?: string } = {}): () => ImStore {
  let app: MockApplication | undefined;
  let cleanup: () => Promise<void> = async () => undefined;
  before(async () => {
    const env = await driver.setup(label);
    cleanup = env.cleanup;
    app = env.boot(options.scenario);
    await app.ready();
    await options.seed?.(app.imStore);
  });
  after(async () => {
    await app?.close();
    await cleanup();
  });
  return () => app!.imStore;
}
