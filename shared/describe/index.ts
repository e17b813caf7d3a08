// GET /v1/connections and GET /v1/connections/:name/tables/:schema.table — what an agent needs to
// write a query without guessing: the connections it may use, and a table's columns from the
// target's own catalog, with the columns the policy masks marked. Read-only and recorded: each
// call is a session (request, and for a table its analysis and decision) before anything runs.
//
// A table is described only to callers the policy lets read that connection (decision `allow` for
// the catalog query, which is class `read`): the schema is information too. The catalog query runs
// in a READ ONLY transaction with the connection's credentials and lists only the columns that
// role may SELECT, so the answer never shows more than a query by the same connection could.
import * as ev from '../audit/drafts.ts';
import type { EventDraft } from '../audit/events.ts';
import { GatehouseError } from '../errors.ts';
import type { Principal } from '../identity/principal.ts';
import { checkAgentModel, decide } from '../policy/index.ts';
import type { Policy } from '../policy/types.ts';
import type { TargetDatabase } from '../ports.ts';
import { sharedStatements } from '../sql/statement-cache.ts';

/** Fixed statements: parsed once per process (shared/sql/statement-cache.ts). */
const analyze = (sql: string) => sharedStatements.statement(sql).analysis;
import { SessionError, type Caller } from '../kernel/index.ts';

const DESCRIBE_SQL = `SELECT a.attname::text AS name, pg_catalog.format_type(a.atttypid, a.atttypmod) AS type,
       NOT a.attnotnull AS nullable, a.attnum::int AS position, c.relkind::text AS relkind
  FROM pg_catalog.pg_attribute a
  JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped
   AND pg_catalog.has_column_privilege(c.oid, a.attnum, 'SELECT')
 ORDER BY a.attnum`;

const MAX_COLUMNS = 1_600; // PostgreSQL's own limit per table
const NAME = /^[^\0]{1,63}$/; // an identifier as PostgreSQL stores it (NAMEDATALEN - 1 bytes, checked below)
const KINDS: Record<string, 'table' | 'view' | 'matview' | 'foreign' | 'partitioned'> = { r: 'table', v: 'view', m: 'matview', f: 'foreign', p: 'partitioned' };

export interface DescribeDeps {
  readonly policy: Policy;
  readonly target: TargetDatabase;
  readonly newSessionId: () => string;
  readonly authenticate: (caller: Caller) => Promise<Principal>;
  readonly record: (sessionId: string, drafts: EventDraft[]) => Promise<void>;
  /** What the masking step would do to each column read plainly (views resolved to their base columns). */
  readonly columnMasks: (connection: string, schema: string, table: string) => Promise<ReadonlyMap<string, string | null>>;
}

export function createDescriber(deps: DescribeDeps) {
  const { policy, target } = deps;
  return { connections, describeTable };

  /** GET /v1/connections */
  async function connections(caller: Caller) {
    const principal = await deps.authenticate(caller);
    const sessionId = deps.newSessionId();
    const facts: ev.RequestFacts = { endpoint: 'connections', principal, agent: agentOf(caller) };
    await admitModel(sessionId, caller, facts);
    await deps.record(sessionId, [ev.requestEvent(facts)]);
    const probe = analyze('SELECT 1');
    return {
      sessionId,
      connections: Object.entries(policy.connections).map(([name, c]) => ({
        name,
        maxRows: c.maxRows,
        statementTimeoutMs: c.statementTimeoutMs,
        read: decide(policy, { principal, connection: name, analysis: probe }).action,
      })),
    };
  }

  /** GET /v1/connections/:name/tables/:schema.table */
  async function describeTable(caller: Caller, connection: string, qualified: string) {
    const principal = await deps.authenticate(caller);
    const sessionId = deps.newSessionId();
    const { schema, table } = splitName(qualified);
    const params = [schema ?? '', table ?? ''];
    const facts: ev.RequestFacts = { endpoint: 'describe_table', principal, agent: agentOf(caller), connection, sql: DESCRIBE_SQL, params };
    await admitModel(sessionId, caller, facts);
    if (schema === undefined || table === undefined) {
      const error = new GatehouseError('bad_request', 'name the table as schema.table (each at most 63 bytes)');
      await deps.record(sessionId, [ev.requestEvent(facts, error)]);
      throw new SessionError(sessionId, error);
    }
    if (!Object.hasOwn(policy.connections, connection)) {
      const error = new GatehouseError('unknown_connection', `no connection named "${connection}" in the policy`);
      await deps.record(sessionId, [ev.requestEvent(facts, error)]);
      throw new SessionError(sessionId, error);
    }
    const analysis = analyze(DESCRIBE_SQL);
    const decision = decide(policy, { principal, connection, analysis });
    await deps.record(sessionId, [ev.requestEvent(facts), ev.analysisEvent(analysis), ev.decisionEvent(decision)]);
    if (decision.action !== 'allow') {
      throw new SessionError(
        sessionId,
        new GatehouseError('policy_denied', `describing tables needs a rule that allows reads on ${connection} (${decision.rule ?? 'no rule'}: ${decision.action})`, {
          rule: decision.rule,
        }),
      );
    }
    const c = policy.connections[connection]!;
    let rows: readonly (readonly unknown[])[];
    try {
      ({ rows } = await target.run({ connection, sql: DESCRIBE_SQL, params, readOnly: true, maxRows: MAX_COLUMNS, statementTimeoutMs: c.statementTimeoutMs }));
    } catch (e) {
      throw new SessionError(sessionId, e instanceof GatehouseError ? e : new GatehouseError('database_unavailable', 'the catalog could not be read'));
    }
    if (rows.length === 0) {
      throw new SessionError(sessionId, new GatehouseError('table_not_found', `no table ${schema}.${table} on ${connection} with columns this connection may read`));
    }
    // The policy's own entries, and what masking resolves through the catalog (a view's column
    // that shows a masked base column is sensitive too). A column neither can place is marked
    // sensitive: the answer errs the same way masking does.
    const listed = maskedColumns(schema, table);
    let resolved: ReadonlyMap<string, string | null> | undefined;
    try {
      resolved = await deps.columnMasks(connection, schema, table);
    } catch {
      resolved = undefined;
    }
    const masked = new Map<string, string>();
    for (const [name] of rows) {
      const key = String(name);
      const strategy = listed.get(key.toLowerCase()) ?? (resolved === undefined || !resolved.has(key) ? 'redact' : resolved.get(key));
      if (strategy) masked.set(key.toLowerCase(), strategy);
    }
    return {
      sessionId,
      connection,
      schema,
      table,
      kind: KINDS[String(rows[0]![4])] ?? ('other' as const),
      columns: rows.map(([name, type, nullable, position]) => {
        const mask = masked.get(String(name).toLowerCase());
        return { name: String(name), type: String(type), nullable: nullable === true, position: Number(position), sensitive: mask !== undefined, ...(mask ? { mask } : {}) };
      }),
    };
  }

  /** The same agent checks as a query: a refused model is refused here too, and recorded. */
  async function admitModel(sessionId: string, caller: Caller, facts: ev.RequestFacts): Promise<void> {
    const model = checkAgentModel(policy, caller.model);
    if (model.ok) return;
    const error = new GatehouseError(model.code, model.reason);
    await deps.record(sessionId, [ev.requestEvent(facts, error)]);
    throw new SessionError(sessionId, error);
  }

  function maskedColumns(schema: string, table: string): Map<string, string> {
    const out = new Map<string, string>();
    const prefix = `${schema}.${table}.`.toLowerCase();
    for (const [key, strategy] of Object.entries(policy.masking.columns)) {
      if (key.toLowerCase().startsWith(prefix)) out.set(key.slice(prefix.length).toLowerCase(), strategy);
    }
    return out;
  }
}

export type Describer = ReturnType<typeof createDescriber>;

/** `schema.table`; a name containing a dot can be quoted: `"my.schema"."t"`. */
export function splitName(qualified: string): { schema?: string; table?: string } {
  const m = /^(?:"((?:[^"]|"")+)"|([^".]+))\.(?:"((?:[^"]|"")+)"|([^".]+))$/.exec(qualified);
  if (!m) return {};
  const schema = m[1]?.replaceAll('""', '"') ?? m[2]!;
  const table = m[3]?.replaceAll('""', '"') ?? m[4]!;
  if (!NAME.test(schema) || !NAME.test(table) || Buffer.byteLength(schema) > 63 || Buffer.byteLength(table) > 63) return {};
  return { schema, table };
}

function agentOf(caller: Caller) {
  return { model: caller.model, runId: caller.runId, traceparent: caller.traceparent };
}
