export { createPostgresSessionLog, type PostgresSessionLogOptions } from './session-log.ts';
export { createPostgresApprovalStore, type PostgresApprovalStoreOptions } from './approval-store.ts';
