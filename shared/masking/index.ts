// Step 7 of the request path: what the gateway calls. See docs/design.md#the-request-path and #masking-provenance, and plan.ts for the
// order of trust (provenance, lineage, fail closed, then detectors).
import { GatehouseError } from '../errors.ts';
import type { MaskingConfig, MaskStrategy } from '../policy/types.ts';
import type { CatalogReader, ResultField } from '../ports.ts';
import { loadParser } from '../sql/index.ts';
import { applyCompiled, compileColumn, type CompiledColumn } from './apply.ts';
import { createDetectors } from './detectors.ts';
import { identifiersOf, redactErrorMessage, withheldMessage } from './error-message.ts';
import { sharedStatements } from '../sql/statement-cache.ts';
import { isStatement, type Statement } from '../sql/statement.ts';
import { keyCache, rawResultDigest } from './keys.ts';
import { fromLineage, maskedBeforeRows, planColumns, prepareStatement, refuseDerived, refuseMaskedWrites, refusePredicates, type PreparedStatement } from './plan.ts';
import { previewOf } from './preview.ts';
import { indexConfig, type SensitiveIndex } from './sensitive.ts';
import { strategyFn } from './strategies.ts';
import type { MaskedResult, MaskPlan, MaskPreview } from './types.ts';

export type { ColumnMask, ColumnOutcome, MaskDecision, MaskedResult, MaskPlan, MaskPreview, MaskWhy } from './types.ts';
export type { PreparedStatement } from './plan.ts';
export { identifiersOf, redactErrorMessage, withheldMessage } from './error-message.ts';
export { createDetectors, DETECTOR_NAMES, type DetectorName, type Detectors } from './detectors.ts';
export { forDerived, REDACTED, STRICTNESS, strategyFn, strictest } from './strategies.ts';

export interface MaskerOptions {
  readonly config: MaskingConfig;
  readonly catalog: CatalogReader;
  /** The masking key (≥ 16 bytes) from the SecretSource; never from the policy file. */
  readonly hashKey: () => Promise<Uint8Array>;
}

export interface Masker {
  /**
   * Before the statement runs (optional, recommended): parses it, warms the catalog for every
   * relation and function it names, and refuses with `masking_denied` what `derived: deny` would
   * refuse anyway — before anything ran. Its result can be handed to plan().
   */
  prepare(input: StatementInput): Promise<PreparedStatement>;
  /** Decide per result column; throws GatehouseError('masking_denied') when derived: deny and a derived column depends on a masked one. */
  plan(input: StatementInput & { fields: readonly ResultField[]; prepared?: PreparedStatement }): Promise<MaskPlan>;
  apply(plan: MaskPlan, rows: readonly (readonly unknown[])[]): Promise<MaskedResult>;
  /**
   * Synchronous, as the rows start (the engine's byte budget): for each column of RowDescription,
   * whether plan() will mask it. A relation prepare() did not describe counts as masked.
   */
  maskedColumns(prepared: PreparedStatement, fields: readonly Pick<ResultField, 'name' | 'dataTypeID' | 'tableID' | 'columnID'>[]): boolean[];
  /** For POST /v1/analyze: which output columns would be masked, from lineage alone (no database). Synchronous, like analyze(): after loadParser(). */
  preview(statement: string | Statement): MaskPreview[];
  /** Keyed digest (HMAC-SHA256 under a key derived from the masking key) of the raw result. */
  rawDigest(fields: readonly Pick<ResultField, 'name'>[], rows: readonly (readonly unknown[])[]): Promise<string>;
  /**
   * What of a failed statement's error message may be shown. When the statement reads sensitive
   * data (catalog included: views, whole rows, user functions) and the error has a SQLSTATE, the
   * message is withheld (`withheld: true`, a fixed message naming the condition); otherwise it is
   * redacted (redactErrorMessage).
   */
  redactError(input: StatementInput & { message: string; sqlstate?: string; position?: number }): Promise<{ message: string; withheld: boolean }>;
  /**
   * For describing a relation: the strategy each of its columns would be masked with when read
   * plainly (`SELECT *`), by column name — through the catalog, so a view's columns carry the
   * strategies of the base columns they show. null: not masked.
   */
  columnMasks(input: { connection: string; schema: string; table: string }): Promise<ReadonlyMap<string, MaskStrategy | null>>;
}

/**
 * What a step is about: the connection, and the Statement step 2 parsed (`statement`, no parse
 * here) or only its text (`sql`, parsed through the shared statement cache). With both, they must
 * be the same statement.
 */
export interface StatementInput {
  readonly connection: string;
  readonly sql: string;
  readonly statement?: Statement;
}

/** The Statement for an input, parsed only when the caller did not hand one over. */
function statementOf(input: { sql: string; statement?: Statement }): Statement {
  if (input.statement !== undefined) {
    if (!isStatement(input.statement) || input.statement.sql !== input.sql) throw new GatehouseError('internal', 'the masker was handed another statement than its SQL');
    return input.statement;
  }
  return sharedStatements.statement(input.sql);
}

/** What apply() needs and a caller must not touch. */
const compiledPlans = new WeakMap<MaskPlan, readonly CompiledColumn[]>();

export function createMasker(options: MaskerOptions): Masker {
  const { config, catalog, hashKey } = checkOptions(options);
  const index: SensitiveIndex = indexConfig(config);
  const detectors = createDetectors(config.detectors);
  const keys = keyCache(hashKey);

  async function prepare(input: StatementInput): Promise<PreparedStatement> {
    if (input.statement === undefined) await loadParser();
    const prepared = await prepareStatement(index, catalog, input.connection, statementOf(input));
    refuseMaskedWrites(index, prepared);
    if (config.predicates === 'deny') refusePredicates(index, prepared);
    if (config.derived === 'deny' && Array.isArray(prepared.outputs)) {
      refuseDerived(prepared.outputs.map((o, i) => fromLineage(index, prepared, { index: i, name: o.name ?? '?column?' }, o.lineage)));
    }
    return prepared;
  }

  return {
    prepare,

    async plan({ connection, sql, statement, fields, prepared }) {
      const p = prepared !== undefined && prepared.connection === connection && prepared.sql === sql ? prepared : await prepare({ connection, sql, ...(statement ? { statement } : {}) });
      const [{ pseudonym }, planned] = await Promise.all([keys(), planColumns(config, index, catalog, p, fields)]);
      const columns = planned.map(({ denies: _denies, ...column }) => column);
      const compiled = columns.map((column, i) =>
        compileColumn(column, fields[i]!.dataTypeID, column.strategy === null ? undefined : strategyFn(column.strategy, pseudonym), detectors),
      );
      const plan: MaskPlan = Object.freeze({ connection, columns });
      compiledPlans.set(plan, compiled);
      return plan;
    },

    async apply(plan, rows) {
      const compiled = compiledPlans.get(plan);
      if (compiled === undefined) throw new GatehouseError('internal', 'apply() takes a plan made by this masker');
      return applyCompiled(compiled, detectors, rows);
    },

    maskedColumns(prepared, fields) {
      return maskedBeforeRows(index, prepared, fields);
    },

    preview(statement) {
      return previewOf(index, config, typeof statement === 'string' ? sharedStatements.statement(statement) : statement);
    },

    async rawDigest(fields, rows) {
      const { digest } = await keys();
      return rawResultDigest(digest, fields.map((f) => f.name), rows);
    },

    async columnMasks({ connection, schema, table }) {
      await loadParser();
      const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;
      const prepared = await prepareStatement(index, catalog, connection, sharedStatements.statement(`SELECT * FROM ${quote(schema)}.${quote(table)}`));
      const out = new Map<string, MaskStrategy | null>();
      if (!Array.isArray(prepared.outputs)) return out; // nothing traceable: the caller fails closed
      prepared.outputs.forEach((o, i) => {
        if (o.name !== undefined) out.set(o.name, fromLineage(index, prepared, { index: i, name: o.name }, o.lineage).strategy);
      });
      return out;
    },

    async redactError({ connection, sql, statement, message, sqlstate, position }) {
      let readsSensitive = true;
      let identifiers = new Set<string>();
      try {
        if (statement === undefined) await loadParser();
        const parsed = statementOf({ sql, ...(statement ? { statement } : {}) });
        identifiers = identifiersOf(parsed.node);
        const prepared = await prepareStatement(index, catalog, connection, parsed);
        readsSensitive = prepared.readsStrategies.size > 0;
      } catch {
        // Unparsable SQL or no catalog: assume the worst.
      }
      if (readsSensitive && sqlstate !== undefined) return { message: withheldMessage(sqlstate, position), withheld: true };
      return { message: redactErrorMessage(message, readsSensitive, identifiers), withheld: false };
    },
  };
}

function checkOptions(options: MaskerOptions): MaskerOptions {
  if (typeof options !== 'object' || options === null) throw new TypeError('createMasker: options are required');
  const { config, catalog, hashKey } = options;
  if (typeof config !== 'object' || config === null || typeof config.columns !== 'object') throw new TypeError('createMasker: config must be the policy masking block');
  if (config.derived !== 'mask' && config.derived !== 'deny') throw new TypeError('createMasker: config.derived must be mask or deny');
  if (typeof catalog?.describe !== 'function' || typeof catalog.lookup !== 'function' || typeof catalog.userFunctions !== 'function') {
    throw new TypeError('createMasker: catalog must be a CatalogReader');
  }
  if (typeof hashKey !== 'function') throw new TypeError('createMasker: hashKey must be a function returning the key');
  return options;
}
