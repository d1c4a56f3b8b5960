import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * im_users and im_sessions.
 * Written as SQL per driver so both schemas are exactly what is documented: MySQL/MariaDB tables are
 * InnoDB, utf8mb4 with the binary collation (byte-exact, case-sensitive comparisons); SQLite keeps the
 * same column names, types and index names.
 */
export class CreateUsersAndSessions1764320000000 implements MigrationInterface {
  name = 'CreateUsersAndSessions1764320000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    if (queryRunner.connection.driver.options.type === 'mysql') {
      await queryRunner.query(
        'CREATE TABLE `im_users` (' +
        ' `id` varchar(32) NOT NULL,' +
        ' `username` varchar(64) NOT NULL,' +
        ' `password_hash` varchar(255) NULL,' +
        ' `created_at` datetime(3) NOT NULL,' +
        ' PRIMARY KEY (`id`),' +
        ' UNIQUE KEY `uq_im_users_username` (`username`)' +
        ') ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin',
      );
      await queryRunner.query(
        'CREATE TABLE `im_sessions` (' +
        ' `id` varchar(32) NOT NULL,' +
        ' `user_id` varchar(32) NOT NULL,' +
        ' `device_id` varchar(64) NOT NULL,' +
        ' `token_hash` char(64) NOT NULL,' +
        ' `expires_at` datetime(3) NOT NULL,' +
        ' `revoked_at` datetime(3) NULL,' +
        ' `created_at` datetime(3) NOT NULL,' +
        ' PRIMARY KEY (`id`),' +
        ' UNIQUE KEY `uq_im_sessions_token_hash` (`token_hash`),' +
        ' KEY `idx_im_sessions_user_id` (`user_id`),' +
        ' KEY `idx_im_sessions_expires_at` (`expires_at`)' +
        ') ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin',
      );
      return;
    }
    // SQLite (better-sqlite3)
    await queryRunner.query(
      'CREATE TABLE "im_users" (' +
      ' "id" varchar(32) PRIMARY KEY NOT NULL,' +
      ' "username" varchar(64) NOT NULL,' +
      ' "password_hash" varchar(255) NULL,' +
      ' "created_at" datetime(3) NOT NULL' +
      ')',
    );
    await queryRunner.query('CREATE UNIQUE INDEX "uq_im_users_username" ON "im_users" ("username")');
    await queryRunner.query(
      'CREATE TABLE "im_sessions" (' +
      ' "id" varchar(32) PRIMARY KEY NOT NULL,' +
      ' "user_id" varchar(32) NOT NULL,' +
      ' "device_id" varchar(64) NOT NULL,' +
      ' "token_hash" char(64) NOT NULL,' +
      ' "expires_at" datetime(3) NOT NULL,' +
      ' "revoked_at" datetime(3) NULL,' +
      ' "created_at" datetime(3) NOT NULL' +
      ')',
    );
    await queryRunner.query('CREATE UNIQUE INDEX "uq_im_sessions_token_hash" ON "im_sessions" ("token_hash")');
    await queryRunner.query('CREATE INDEX "idx_im_sessions_user_id" ON "im_sessions" ("user_id")');
    await queryRunner.query('CREATE INDEX "idx_im_sessions_expires_at" ON "im_sessions" ("expires_at")');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    // dropping a table drops its indexes on both drivers
    await queryRunner.query(queryRunner.connection.driver.options.type === 'mysql' ? 'DROP TABLE `im_sessions`' : 'DROP TABLE "im_sessions"');
    await queryRunner.query(queryRunner.connection.driver.options.type === 'mysql' ? 'DROP TABLE `im_users`' : 'DROP TABLE "im_users"');
  }
}
