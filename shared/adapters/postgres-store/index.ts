export { createPostgresSessionLog, type PostgresSessionLogOptions } from './session-log.ts';
