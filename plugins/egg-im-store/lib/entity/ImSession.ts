import 'reflect-metadata';
import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** A login of one user on one device; the token itself is never stored, only its SHA-256 (hex). */
@Entity({ name: 'im_sessions' })
@Index('idx_im_sessions_user_id', ['userId'])
@Index('uq_im_sessions_token_hash', ['tokenHash'], { unique: true })
@Index('idx_im_sessions_expires_at', ['expiresAt'])
export class ImSession {
  @PrimaryColumn({ name: 'id', type: 'varchar', length: 32 })
  id!: string;

  @Column({ name: 'user_id', type: 'varchar', length: 128 })
  userId!: string;

  @Column({ name: 'device_id', type: 'varchar', length: 64 })
  deviceId!: string;

  // CHAR(64) in the MySQL table (see the migration); TypeORM has no char type common to MySQL and SQLite,
  // and the entity type only matters for schema generation, which egg-im never uses.
  @Column({ name: 'token_hash', type: 'varchar', length: 64 })
  tokenHash!: string;

  @Column({ name: 'expires_at', type: 'datetime', precision: 3 })
  expiresAt!: Date;

  @Column({ name: 'revoked_at', type: 'datetime', precision: 3, nullable: true })
  revokedAt!: Date | null;

  @Column({ name: 'created_at', type: 'datetime', precision: 3 })
  createdAt!: Date;
}
