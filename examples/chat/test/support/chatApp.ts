import mm, { type MockApplication } from 'egg-mock';
import { createTestDatabase, deleteKeysUnder, dropTestDatabase, TEST_REDIS_URL, uniqueName } from 'egg-im-testkit';

/** The example app (on the egg-im framework) with a database and a Redis key prefix of this run. */
export interface ChatApp {
  app: MockApplication;
  close(): Promise<void>;
}

export async function startChatApp(label: string): Promise<ChatApp> {
  const prefix = `${uniqueName(label)}:`;
  const database = await createTestDatabase(label);
  mm(process.env, 'IM_DATABASE_URL', database.url);
  mm(process.env, 'IM_REDIS_URL', TEST_REDIS_URL);
  mm(process.env, 'IM_REDIS_PREFIX', prefix);
  const app = mm.app({ cache: false });
  await app.ready();
  return {
    app,
    async close() {
      await app.close();
      mm.restore();
      await dropTestDatabase(database.name);
      await deleteKeysUnder(prefix);
    },
  };
}
