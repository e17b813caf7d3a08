export { createTargetDatabase, type TargetDatabaseOptions } from './target-database.ts';
export { createCatalogReader, type CatalogReaderOptions, type ClosableCatalogReader } from './catalog.ts';
