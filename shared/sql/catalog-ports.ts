// The target's catalog as the analysis and masking steps read it (re-exported by shared/ports.ts).
import type { RoutineCatalog } from './routines.ts';

/**
 * What the target database's catalog says about relations, for masking (docs/design.md#masking-provenance: provenance
 * comes from the database). RowDescription names a result column's source by table OID and
 * attribute number; this turns those into names, and views into the base columns they can carry.
 * Answers are cached per connection and refreshed when an unknown OID shows up.
 */
export interface CatalogReader {
  /** Relations by OID (from RowDescription). OIDs the catalog does not know are absent. */
  describe(connection: string, relationOids: readonly number[]): Promise<ReadonlyMap<number, RelationInfo>>;
  /**
   * Relations by name as written in SQL: `schema.name` that one; a bare `name` every relation of
   * that name in any schema (the bot's search_path is not trusted). Unknown names map to `[]`.
   */
  lookup(connection: string, names: readonly string[]): Promise<ReadonlyMap<string, readonly RelationInfo[]>>;
  /**
   * Of these unqualified function names, those with a definition outside pg_catalog and
   * information_schema in a language that can run SQL: their bodies may read any table.
   */
  userFunctions(connection: string, names: readonly string[]): Promise<ReadonlySet<string>>;
}

/**
 * What the target's catalog says about functions, operators and casts (shared/sql/routines.ts), for
 * the read allowlist. Cached per connection; `refresh` reads it again (rate-limited by the adapter).
 */
export interface RoutineCatalogReader {
  routines(connection: string, options?: { readonly refresh?: boolean }): Promise<RoutineCatalog>;
}

export interface RelationInfo {
  readonly oid: number;
  readonly schema: string;
  readonly name: string;
  readonly kind: 'table' | 'view' | 'matview' | 'other';
  /** attnum → column name, live columns only. */
  readonly columns: ReadonlyMap<number, string>;
  /** Tables this one inherits from or is a partition of, as `schema.table`, nearest first. */
  readonly ancestors: readonly string[];
  /** Views and materialized views: attnum → the base table columns that column can carry. */
  readonly viewColumns?: ReadonlyMap<number, ViewColumnLineage>;
  /** Functions reading it runs that are not PostgreSQL's own: its view rule's and row security policies' (OIDs). */
  readonly calls?: readonly number[];
  /** pg_class.reltype: the relation's row type, whose columns' types decide what reading it may run. */
  readonly rowType?: number;
  /** Types its view rule or row security policies convert to or compare (OIDs): their hooks run too. */
  readonly types?: readonly number[];
  /** Relations its row security policies read (a subquery in USING), OIDs. */
  readonly policyReads?: readonly number[];
  /** Views: the relations its rule reads (OIDs). */
  readonly depends?: readonly number[];
}

export interface ViewColumnLineage {
  /** Base table columns as `schema.table.column` (ancestors' names included). */
  readonly sources: readonly string[];
  /** Not a plain reference: an expression, a cast, a whole row. */
  readonly derived: boolean;
  /** The view's lineage could not be worked out: `sources` are every column of every relation it reads. */
  readonly failClosed: boolean;
  /** The column calls a function whose body may read any table: no list of sources is complete. */
  readonly opaque: boolean;
}

/**
 * How a view's columns carry its base tables' columns, worked out from the view's definition by
 * the SQL lineage analysis (shared/masking/view-lineage.ts). The catalog reader (shared/postgres/)
 * asks it, so the package that speaks PostgreSQL does not depend on masking.
 */
export interface ViewLineageAnalyzer {
  /** Never rejects for a definition it cannot read: that view's columns then fail closed. */
  parse(definition: string): Promise<ParsedView>;
}

export interface ParsedView {
  /** Unqualified names of the functions the definition calls (their bodies may read any table). */
  readonly functions: readonly string[];
  /**
   * attnum → lineage for the view's columns, given the relations its rule depends on (undefined:
   * past the depth the catalog follows) and which called names are user functions.
   */
  columns(attnums: readonly number[], deps: readonly (RelationInfo | undefined)[], userFunctions: ReadonlySet<string>): ReadonlyMap<number, ViewColumnLineage>;
}
