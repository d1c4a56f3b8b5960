import type { MigrationInterface, QueryRunner } from 'typeorm';

/** im_users.last_seen_at: presence's "last seen" outlives the cache. */
export class AddUserLastSeen1764320100000 implements MigrationInterface {
  name = 'AddUserLastSeen1764320100000';

  async up(queryRunner: QueryRunner): Promise<void> {
    if (queryRunner.connection.driver.options.type === 'mysql') {
      await queryRunner.query('ALTER TABLE `im_users` ADD COLUMN `last_seen_at` datetime(3) NULL');
    } else {
      await queryRunner.query('ALTER TABLE "im_users" ADD COLUMN "last_seen_at" datetime(3) NULL');
    }
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    if (queryRunner.connection.driver.options.type === 'mysql') {
      await queryRunner.query('ALTER TABLE `im_users` DROP COLUMN `last_seen_at`');
    } else {
      await queryRunner.query('ALTER TABLE "im_users" DROP COLUMN "last_seen_at"');
    }
  }
}
