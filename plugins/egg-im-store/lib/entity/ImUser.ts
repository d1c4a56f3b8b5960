import 'reflect-metadata';
import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** A user known to egg-im. `passwordHash` is NULL when the host app's own user system authenticates. */
@Entity({ name: 'im_users' })
@Index('uq_im_users_username', ['username'], { unique: true })
export class ImUser {
  /** 1 to 128 characters (`ID_MAX_LENGTH`): a host application's ids (UUIDs, e-mail addresses) fit. */
  @PrimaryColumn({ name: 'id', type: 'varchar', length: 128 })
  id!: string;

  @Column({ name: 'username', type: 'varchar', length: 64 })
  username!: string;

  @Column({ name: 'password_hash', type: 'varchar', length: 255, nullable: true })
  passwordHash!: string | null;

  @Column({ name: 'created_at', type: 'datetime', precision: 3 })
  createdAt!: Date;

  /** When a device of the user was last connected (migration AddUserLastSeen). */
  @Column({ name: 'last_seen_at', type: 'datetime', precision: 3, nullable: true })
  lastSeenAt!: Date | null;
}
