import { CreateUsersAndSessions1764320000000 } from './1764320000000-CreateUsersAndSessions';
import { AddUserLastSeen1764320100000 } from './1764320100000-AddUserLastSeen';
import { CreateMessaging1764400000000 } from './1764400000000-CreateMessaging';
import { ExactIdsAndLongUserIds1764500000000 } from './1764500000000-ExactIdsAndLongUserIds';
import { AddAttemptedCursor1764600000000 } from './1764600000000-AddAttemptedCursor';

export {
  AddAttemptedCursor1764600000000, AddUserLastSeen1764320100000, CreateMessaging1764400000000, CreateUsersAndSessions1764320000000,
  ExactIdsAndLongUserIds1764500000000,
};

/**
 * Every migration, oldest first. A schema change is a new class here (never an edit of one that shipped,
 * never `synchronize`); each must work on MySQL/MariaDB and on SQLite.
 */
export const migrations = [
  CreateUsersAndSessions1764320000000, AddUserLastSeen1764320100000, CreateMessaging1764400000000, ExactIdsAndLongUserIds1764500000000,
  AddAttemptedCursor1764600000000,
];
