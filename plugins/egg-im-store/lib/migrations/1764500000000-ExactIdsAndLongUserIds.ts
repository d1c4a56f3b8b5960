import type { MigrationInterface, QueryRunner } from 'typeorm';
import { noPadCollation } from '../sql/collation';

/**
 * Columns holding an id that a host application or a client chooses (1 to 128 characters, `ID_MAX_LENGTH`),
 * with their width before this migration (for `down`). A conversation id is an id too: a group's `g:<id>`,
 * a pair's `d:<a>:<b>` or its hash.
 */
const WIDENED: Record<string, Array<[ column: string, before: number ]>> = {
  im_users: [ [ 'id', 32 ] ],
  im_sessions: [ [ 'user_id', 32 ] ],
  im_groups: [ [ 'created_by', 32 ] ],
  im_conversations: [ [ 'id', 80 ] ],
  im_members: [ [ 'conversation_id', 80 ], [ 'user_id', 32 ] ],
  im_messages: [ [ 'conversation_id', 80 ], [ 'sender_id', 32 ], [ 'client_msg_id', 64 ] ],
  im_outbox: [],
};

/**
 * Ids compare exactly in SQL, as they do in JavaScript and Redis, and user ids may be 128 characters long.
 *
 * MySQL/MariaDB: every egg-im table (and the migrations table) moves to the server's NO PAD binary collation
 * (MariaDB `utf8mb4_nopad_bin`, MySQL 8 `utf8mb4_0900_bin`): under `utf8mb4_bin`, a PAD SPACE collation,
 * `'X '` equals `'X'`, so a trailing space could reach another user's rows or collide with a stored send.
 * The id columns grow to varchar(128); every index stays far below InnoDB's 3072 bytes (the largest, two
 * varchar(128) columns, is 1024 bytes in utf8mb4). Each table is rebuilt once, with its rows.
 *
 * SQLite: nothing to change. It compares TEXT with BINARY (memcmp) unless a column declares another
 * collation, and none does; it does not enforce varchar lengths.
 */
export class ExactIdsAndLongUserIds1764500000000 implements MigrationInterface {
  name = 'ExactIdsAndLongUserIds1764500000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    if (queryRunner.connection.driver.options.type !== 'mysql') return;
    const [ { version } ] = await queryRunner.query('SELECT VERSION() AS version');
    const collation = noPadCollation(String(version));
    for (const [ table, columns ] of Object.entries(WIDENED)) {
      const widen = columns.map(([ column ]) => `, MODIFY \`${column}\` varchar(128) NOT NULL`).join('');
      await queryRunner.query(`ALTER TABLE \`${table}\` CONVERT TO CHARACTER SET utf8mb4 COLLATE ${collation}${widen}`);
    }
    await queryRunner.query(`ALTER TABLE \`${migrationsTable(queryRunner)}\` CONVERT TO CHARACTER SET utf8mb4 COLLATE ${collation}`);
  }

  /** Back to `utf8mb4_bin` and the old widths: refused by the server while longer ids or ids differing only by trailing spaces are stored. */
  async down(queryRunner: QueryRunner): Promise<void> {
    if (queryRunner.connection.driver.options.type !== 'mysql') return;
    await queryRunner.query(`ALTER TABLE \`${migrationsTable(queryRunner)}\` CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
    for (const [ table, columns ] of Object.entries(WIDENED)) {
      const narrow = columns.map(([ column, before ]) => `, MODIFY \`${column}\` varchar(${before}) NOT NULL`).join('');
      await queryRunner.query(`ALTER TABLE \`${table}\` CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin${narrow}`);
    }
  }
}

function migrationsTable(queryRunner: QueryRunner): string {
  return queryRunner.connection.options.migrationsTableName ?? 'migrations';
}
