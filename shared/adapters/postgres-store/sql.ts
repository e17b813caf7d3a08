// The SQL this adapter runs lives in the .sql files beside this one, read once when the module
// loads: reviewable as SQL, and greppable from a DBA's side.
import { readFileSync } from 'node:fs';

const load = (name: string): string => readFileSync(new URL(`./${name}.sql`, import.meta.url), 'utf8');

export const SQL = {
  schema: load('schema'),
  schemaReady: load('schema-ready'),
  head: load('head'),
  append: load('append'),
  appendBatch: load('append-batch'),
  read: load('read'),
  readMany: load('read-many'),
  list: load('list'),
  treeSize: load('tree-size'),
  leaves: load('leaves'),
} as const;

/** The approval store's statements (approval-store.ts). */
export const APPROVAL_SQL = {
  schema: load('approvals-schema'),
  schemaReady: load('approvals-schema-ready'),
  insert: load('approval-insert'),
  get: load('approval-get'),
  lock: load('approval-lock'),
  update: load('approval-update'),
  list: load('approval-list'),
} as const;
