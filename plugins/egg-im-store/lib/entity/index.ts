import { ImSession } from './ImSession';
import { ImUser } from './ImUser';

export { ImSession, ImUser };

/** Every entity of egg-im; later tables are added here (and created by a migration, never by synchronize). */
export const entities = [ImUser, ImSession];
