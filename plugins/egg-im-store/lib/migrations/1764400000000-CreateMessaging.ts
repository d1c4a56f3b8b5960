import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Groups, conversations, members (with their delivery cursors), messages and the routing outbox.
 * Every index serves a named query (docs/architecture.md, "Data model"):
 * - im_messages PRIMARY (conversation_id, seq): history pages, sync, replay: a range of the clustered key.
 * - im_messages uq_im_messages_id (id): the status API and the outbox join.
 * - im_messages uq_im_messages_sender_client (sender_id, client_msg_id): dedupe, and what makes it safe.
 * - im_members PRIMARY (conversation_id, user_id): members of a conversation, a member's cursors.
 * - im_members idx_im_members_user (user_id, conversation_id): a user's conversations (list, sync, replay).
 * - im_outbox idx_im_outbox_created_at (created_at): the sweeper's scan of old entries.
 */
export class CreateMessaging1764400000000 implements MigrationInterface {
  name = 'CreateMessaging1764400000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const mysql = queryRunner.connection.driver.options.type === 'mysql';
    const table = (name: string, columns: string[], keys: string[]) => (mysql
      ? `CREATE TABLE \`${name}\` (${[ ...columns, ...keys ].join(', ')}) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`
      : `CREATE TABLE "${name}" (${[ ...columns, ...keys.filter(k => k.startsWith('PRIMARY')) ].join(', ')})`);
    const index = (name: string, on: string, columns: string, unique = false) => (mysql
      ? undefined // declared inline in CREATE TABLE
      : `CREATE ${unique ? 'UNIQUE ' : ''}INDEX "${name}" ON "${on}" (${columns})`);
    const statements = [
      table('im_groups', [
        'id varchar(32) NOT NULL', 'name varchar(128) NOT NULL', 'created_by varchar(32) NOT NULL', 'created_at datetime(3) NOT NULL',
      ], [ 'PRIMARY KEY (id)' ]),
      table('im_conversations', [
        'id varchar(80) NOT NULL', 'type varchar(8) NOT NULL', 'group_id varchar(32) NULL', 'last_seq bigint NOT NULL DEFAULT 0',
        'created_at datetime(3) NOT NULL', 'updated_at datetime(3) NOT NULL',
      ], [ 'PRIMARY KEY (id)' ]),
      table('im_members', [
        'conversation_id varchar(80) NOT NULL', 'user_id varchar(32) NOT NULL',
        'since_seq bigint NOT NULL DEFAULT 0', 'read_seq bigint NOT NULL DEFAULT 0', 'delivered_seq bigint NOT NULL DEFAULT 0',
        'failed_seq bigint NOT NULL DEFAULT 0', 'attempts int NOT NULL DEFAULT 0',
        'read_at datetime(3) NULL', 'delivered_at datetime(3) NULL', 'failed_at datetime(3) NULL', 'joined_at datetime(3) NOT NULL',
      ], [ 'PRIMARY KEY (conversation_id, user_id)', 'KEY idx_im_members_user (user_id, conversation_id)' ]),
      index('idx_im_members_user', 'im_members', 'user_id, conversation_id'),
      table('im_messages', [
        'conversation_id varchar(80) NOT NULL', 'seq bigint NOT NULL', 'id varchar(32) NOT NULL', 'sender_id varchar(32) NOT NULL',
        'client_msg_id varchar(64) NOT NULL', 'type varchar(64) NOT NULL',
        // Text, not a JSON column: MySQL's JSON type rewrites documents (key order); content is kept byte for byte.
        mysql ? 'content longtext NOT NULL' : 'content text NOT NULL', mysql ? 'meta longtext NOT NULL' : 'meta text NOT NULL',
        'created_at datetime(3) NOT NULL',
      ], [
        'PRIMARY KEY (conversation_id, seq)', 'UNIQUE KEY uq_im_messages_id (id)',
        'UNIQUE KEY uq_im_messages_sender_client (sender_id, client_msg_id)',
      ]),
      index('uq_im_messages_id', 'im_messages', 'id', true),
      index('uq_im_messages_sender_client', 'im_messages', 'sender_id, client_msg_id', true),
      table('im_outbox', [ 'message_id varchar(32) NOT NULL', 'created_at datetime(3) NOT NULL' ],
        [ 'PRIMARY KEY (message_id)', 'KEY idx_im_outbox_created_at (created_at)' ]),
      index('idx_im_outbox_created_at', 'im_outbox', 'created_at'),
    ];
    for (const sql of statements) if (sql) await queryRunner.query(sql);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const mysql = queryRunner.connection.driver.options.type === 'mysql';
    for (const name of [ 'im_outbox', 'im_messages', 'im_members', 'im_conversations', 'im_groups' ]) {
      await queryRunner.query(mysql ? `DROP TABLE \`${name}\`` : `DROP TABLE "${name}"`);
    }
  }
}
