export { createTargetDatabase, type TargetDatabaseOptions } from './target-database.ts';
