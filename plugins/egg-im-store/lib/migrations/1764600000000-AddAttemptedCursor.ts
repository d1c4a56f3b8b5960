import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * im_members.attempted_seq and attempted_pushes: the pushes of a delivery still pending, so the status API
 * shows them while they happen. `attempted_seq` is the highest seq `receipts.attempted` recorded for the
 * member; `attempted_pushes` the most pushes recorded for a message not yet acknowledged (back to 0 when the
 * delivered or failed cursor passes `attempted_seq`). Added last, so the change is instant on MariaDB 10.3+
 * and MySQL 8.0.12+.
 */
export class AddAttemptedCursor1764600000000 implements MigrationInterface {
  name = 'AddAttemptedCursor1764600000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    if (queryRunner.connection.driver.options.type === 'mysql') {
      await queryRunner.query('ALTER TABLE `im_members` ADD COLUMN `attempted_seq` bigint NOT NULL DEFAULT 0, ADD COLUMN `attempted_pushes` int NOT NULL DEFAULT 0');
    } else {
      await queryRunner.query('ALTER TABLE "im_members" ADD COLUMN "attempted_seq" bigint NOT NULL DEFAULT 0');
      await queryRunner.query('ALTER TABLE "im_members" ADD COLUMN "attempted_pushes" int NOT NULL DEFAULT 0');
    }
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    if (queryRunner.connection.driver.options.type === 'mysql') {
      await queryRunner.query('ALTER TABLE `im_members` DROP COLUMN `attempted_pushes`, DROP COLUMN `attempted_seq`');
    } else {
      await queryRunner.query('ALTER TABLE "im_members" DROP COLUMN "attempted_pushes"');
      await queryRunner.query('ALTER TABLE "im_members" DROP COLUMN "attempted_seq"');
    }
  }
}
