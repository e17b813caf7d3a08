// The request path of docs/design.md#the-request-path, top to bottom. Each step lives in its own folder and knows
// nothing of HTTP or storage; this file only chains them and records what happened. It fails
// closed: a step that cannot decide, or a session log that cannot be written, means nothing runs.
import { randomUUID } from 'node:crypto';
import { GatehouseError, isGatehouseError } from './errors.ts';
import type { Principal } from './identity/principal.ts';
import { checkAgentModel, decide } from './policy/index.ts';
import type { Decision, Policy } from './policy/types.ts';
import type { ListedFunctions, ResolvePorts } from './sql/index.ts';
import { createStatementCache, type StatementCache } from './sql/statement-cache.ts';
import type { Statement } from './sql/statement.ts';
import type { Analysis } from './sql/analysis.ts';
import type { CatalogReader, RoutineCatalogReader, SessionLog, StatementResult, TargetDatabase } from './ports.ts';
import { parseQueryRequest, type QueryRequest } from './query-request.ts';
import type { EventDraft, SessionEvent, SessionStatus } from './audit/events.ts';
import type { ChainHead } from './audit/chain.ts';
import { dataOf } from './audit/event-schema.ts';
import * as ev from './audit/drafts.ts';
import { provenStatus, votesDecide } from './approvals/proven-status.ts';
import { holdForApproval, redeemApproval, type ApprovalWorkflow, type StepInput } from './approvals/steps.ts';
import { namedObjects, parseResolved, RESOLVE_RELATIONS, type BoundRelations } from './approvals/relations.ts';
import type { ColumnOutcome, Masker, MaskPreview } from './masking/index.ts';
import { estimatePlan, type PlannerSafety } from './blast-radius/estimate.ts';
import { resolveWithCatalog } from './sql/resolve.ts';
import { NOT_A_RELATION } from './sql/call-sites.ts';
import { createDescriber } from './describe/index.ts';
import { samePrincipal } from './approvals/people.ts';
import { asGatehouseError, authenticate as verifyCaller, recordOrFail, SessionError, type BodyReader, type Caller } from './kernel/index.ts';
import type { Person } from './approvals/types.ts';
import type { ResultBudget } from './postgres/result-budget.ts';

export interface GatewayDeps {
  readonly policy: Policy;
  readonly verifyToken: (token: string) => Promise<Principal>;
  readonly sessions: SessionLog;
  readonly target: TargetDatabase;
  readonly newSessionId?: () => string;
  /** Members of these groups may read every session (auditors); others only their own. */
  readonly auditorGroups?: readonly string[];
  /** Upper bound for `GET /v1/sessions/:id?wait=` long polls, in seconds. */
  readonly maxWaitSec?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Step 5. Without it a rule that needs approval denies (fail closed): nobody could give one. */
  readonly approvals?: ApprovalWorkflow;
  /** Step 7. Required: every result passes through it (detectors, keyed digest). */
  readonly masker: Masker;
  /**
   * Step 2b. The target's catalog: what a `read` can call is checked against the allowlist there
   * (shared/sql/resolve.ts). Required: without it nothing could be `read`.
   */
  readonly catalog: CatalogReader & RoutineCatalogReader;
  /** Recorded in execution.started; default a random UUID per process. */
  readonly instanceId?: string;
  /** Step 2's parse-once cache (shared/sql/statement-cache.ts); default one per gateway. */
  readonly statements?: StatementCache;
  /**
   * Result bytes in flight, process-wide (shared/postgres/result-budget.ts): a statement reserves
   * its connection's maxResultBytes before it runs. Without it, only maxResultBytes bounds memory.
   */
  readonly resultBudget?: ResultBudget;
}

// Shared with the review desk and the catalog reads (shared/kernel/); re-exported for the transports.
export { recordOrFail, SessionError, type BodyReader, type Caller, type RequestFacts } from './kernel/index.ts';

export interface ColumnOut {
  readonly name: string;
  readonly type: string;
  readonly masked: boolean;
  readonly mask?: string;
}

export type QueryOutcome =
  | {
      readonly kind: 'executed';
      readonly sessionId: string;
      readonly command: string;
      readonly rowCount: number;
      readonly truncated: boolean;
      readonly truncatedBy?: 'rows' | 'bytes';
      readonly columns: readonly ColumnOut[];
      readonly rows: readonly (readonly unknown[])[];
      readonly risk: Risk;
      /**
       * Gives back the result bytes this answer holds (resultBudget): the transport calls it once
       * the answer is written. Idempotent; a transport that never calls it is covered by a timer.
       */
      readonly release: () => void;
    }
  | { readonly kind: 'denied'; readonly sessionId: string; readonly rule: string | null; readonly reasons: readonly string[] }
  | { readonly kind: 'pending_approval'; readonly sessionId: string; readonly approval: HeldApproval };

/** What the bot needs to wait for its approval and present it (docs/design.md#http-api, the 202 answer). */
export interface HeldApproval {
  readonly id: string;
  readonly expiresAt: string;
  readonly quorum: number;
  readonly approvers: readonly string[];
}

export interface AnalyzeOutcome {
  readonly sessionId: string;
  readonly risk: Risk;
  readonly decision: Decision['action'];
  readonly rule: string | null;
  readonly statement: Pick<Analysis, 'kind' | 'tables' | 'columns' | 'functions' | 'fingerprint'>;
  readonly masking: readonly MaskPreview[];
}

export interface Risk {
  readonly class: Analysis['class'];
  readonly reasons: readonly string[];
}

/** Everything steps 1–4 established, recorded before anything runs. */
interface Admitted {
  readonly sessionId: string;
  readonly principal: Principal;
  readonly request: QueryRequest;
  readonly analysis: Analysis;
  /** Parsed once in step 2; masking and error redaction read its tree, never the text again. */
  readonly statement: Statement;
  readonly decision: Decision;
  /** Set when step 5 held the statement for people. */
  readonly held?: HeldApproval;
  /** The last event this gateway appended to the session before it runs (execution.started). */
  readonly head?: ChainHead;
  /**
   * Result bytes reserved before an approval was redeemed (resultBudget): execute() uses them
   * instead of reserving, and whoever does not execute gives them back.
   */
  readonly reserved?: () => void;
}

// A transport that never says its answer was written (or a client that reads it very slowly) holds
// result bytes at most this long: a leak must not shrink the budget for good.
const ANSWER_WRITE_BOUND_MS = 60_000;

export function createGateway(deps: GatewayDeps) {
  const newSessionId = deps.newSessionId ?? randomUUID;
  const auditorGroups = deps.auditorGroups ?? ['auditors'];
  const maxWaitSec = deps.maxWaitSec ?? 60;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const { policy, sessions, target } = deps;
  const listed: ListedFunctions = new Map(policy.functions.map((f) => [f.signature, f.reason]));
  const catalogPorts: ResolvePorts = { routines: deps.catalog, relations: deps.catalog };
  const instanceId = deps.instanceId ?? randomUUID();
  const statements = deps.statements ?? createStatementCache();
  /** Sessions this process is executing now: reconciliation must not close them. */
  const inFlight = new Set<string>();

  // GET /v1/connections[/NAME/tables/SCHEMA.TABLE]: recorded catalog reads (shared/describe).
  const describer = createDescriber({
    policy,
    target,
    newSessionId,
    authenticate,
    record,
    columnMasks: (connection, schema, table) => deps.masker.columnMasks({ connection, schema, table }),
  });

  return {
    query,
    analyze: analyzeOnly,
    session,
    connections: describer.connections,
    describeTable: describer.describeTable,
    instanceId,
    inFlight: inFlight as ReadonlySet<string>,
  };

  /** POST /v1/query */
  async function query(caller: Caller, body: BodyReader): Promise<QueryOutcome> {
    const principal = await authenticate(caller); //                       1 identity
    const admitted = await admit('query', principal, caller, body); //       2 analyze, 3 decide, 4 record
    const { sessionId, decision, analysis } = admitted;
    if (decision.action !== 'allow') admitted.reserved?.();
    if (admitted.held) return { kind: 'pending_approval', sessionId, approval: admitted.held }; // 5 approve
    if (decision.action !== 'allow') {
      return { kind: 'denied', sessionId, rule: decision.rule, reasons: decision.reasons };
    }
    const { result, columns, release } = await execute(admitted); //        6 execute, 7 mask, 8 record
    return {
      kind: 'executed',
      sessionId,
      command: result.command,
      rowCount: result.rowCount,
      truncated: result.truncated,
      ...(result.truncatedBy ? { truncatedBy: result.truncatedBy } : {}),
      columns: result.fields.map((f, i) => {
        const c = columns[i];
        return { name: f.name, type: f.type, masked: c?.masked ?? false, ...(c?.mask ? { mask: c.mask } : {}) };
      }),
      rows: result.rows,
      risk: { class: analysis.class, reasons: analysis.reasons },
      release,
    };
  }

  /** POST /v1/analyze: the same steps up to the decision, recorded, and nothing runs. */
  async function analyzeOnly(caller: Caller, body: BodyReader): Promise<AnalyzeOutcome> {
    const principal = await authenticate(caller);
    const { sessionId, analysis, decision, statement } = await admit('analyze', principal, caller, body);
    const { kind, tables, columns, functions, fingerprint } = analysis;
    return {
      sessionId,
      risk: { class: analysis.class, reasons: analysis.reasons },
      decision: decision.action,
      rule: decision.rule,
      statement: { kind, tables, columns, functions, fingerprint },
      masking: deps.masker.preview(statement),
    };
  }

  /** GET /v1/sessions/:id[?wait=s] — for its requester and for auditors. */
  async function session(caller: Caller, sessionId: string, waitSec = 0) {
    const principal = await authenticate(caller);
    let events = await readSession(sessionId);
    // Someone else's session answers exactly like a missing one, so ids cannot be probed.
    if (events.length === 0 || !maySee(principal, events[0]!)) {
      throw new GatehouseError('session_not_found', `no session ${sessionId} visible to this caller`);
    }
    const initial = await statusOf(events);
    const deadline = Date.now() + Math.min(Math.max(waitSec, 0), maxWaitSec) * 1000;
    let status = initial;
    while (status === initial && Date.now() < deadline) {
      await sleep(Math.min(250, Math.max(deadline - Date.now(), 0)));
      events = await readSession(sessionId);
      status = await statusOf(events);
    }
    return { sessionId, status, events };
  }

  /**
   * The status a caller may act on: votes count only as the desk's signatures prove them
   * (shared/approvals/proven-status.ts). Without an approval desk, or while its key cannot be
   * read, no vote is proven — a client waiting for approval keeps waiting rather than redeem one.
   */
  async function statusOf(events: readonly SessionEvent[]): Promise<SessionStatus> {
    // The desk's key is read only when a vote could decide; the rest is the same derivation
    // `sessions list|show` makes (votes for other approvals passed over, the order checked).
    const pem = votesDecide(events) ? await deps.approvals?.signer.publicKeyPem().catch(() => undefined) : undefined;
    return provenStatus(events, pem);
  }

  // --- steps ---------------------------------------------------------------------------------

  function authenticate(caller: Caller): Promise<Principal> {
    return verifyCaller(deps.verifyToken, caller);
  }

  async function admit(endpoint: 'query' | 'analyze', principal: Principal, caller: Caller, body: BodyReader): Promise<Admitted> {
    const sessionId = newSessionId();
    caller.observe?.({ sessionId });
    // The session's head as this gateway left it: its result is appended right after it or not at
    // all (compare-and-append), so a session another instance's reconciliation closed meanwhile
    // never gains a result, and its write never a COMMIT.
    let head: ChainHead | undefined;
    const recordHere = async (drafts: EventDraft[]) => {
      const stored = await recordEvents(sessionId, drafts);
      const last = stored.at(-1);
      head = last ? { seq: last.seq, hash: last.hash } : head;
    };
    const agent = { model: caller.model, runId: caller.runId, traceparent: caller.traceparent };
    const refuse = async (error: GatehouseError, facts: ev.RequestFacts, more: EventDraft[] = []): Promise<never> => {
      await record(sessionId, [ev.requestEvent(facts, more.length ? undefined : error), ...more]);
      throw new SessionError(sessionId, error);
    };

    let request: QueryRequest;
    try {
      request = parseQueryRequest(body());
    } catch (e) {
      return refuse(asGatehouseError(e), { endpoint, principal, agent });
    }
    const facts: ev.RequestFacts = { endpoint, principal, agent, ...request };

    const model = checkAgentModel(policy, caller.model);
    if (!model.ok) {
      const error = new GatehouseError(model.code, model.reason);
      return refuse(error, facts, [ev.decisionEvent(agentDenial(model.code, model.reason))]);
    }
    if (!Object.hasOwn(policy.connections, request.connection)) {
      return refuse(new GatehouseError('unknown_connection', `no connection named "${request.connection}" in the policy`), facts);
    }

    let analysis: Analysis;
    let statement: Statement;
    try {
      statement = statements.statement(request.sql); //                       2 analyze (parsed once, or cached)
      // 2b: what PostgreSQL would call, from the target's catalog (a read stays read only if all
      // of it is on the allowlist). Never throws: a catalog it cannot read leaves nothing `read`.
      analysis = await statements.resolve(statement, request.connection, catalogPorts, listed);
    } catch (e) {
      const error = asGatehouseError(e);
      return refuse(error, facts, [ev.analysisFailedEvent(error)]);
    }
    caller.observe?.({ riskClass: analysis.class, fingerprint: analysis.fingerprint });

    let decision = decide(policy, { principal, connection: request.connection, analysis }); // 3 decide
    if (decision.action === 'approve' && !deps.approvals) decision = approvalsUnavailable(decision);
    caller.observe?.({ decision: decision.action });

    // 4 record: request, analysis and decision are durable before anything can run. An allowed
    // query's execution.started goes in the same append: one round trip fewer per statement.
    const recordDecision = async (d: Decision, more: readonly EventDraft[] = []) => {
      const drafts = [ev.requestEvent(facts), ev.analysisEvent(analysis), ev.decisionEvent(d), ...more];
      if (endpoint === 'query' && d.action === 'allow') drafts.push(ev.executionStartedEvent(statementFor(request, analysis)));
      await recordHere(drafts);
    };
    if (endpoint === 'query' && decision.action === 'approve' && deps.approvals) {
      // 5 approve: held for people, or released by the approval the bot presents. Either way the
      // step records the decision itself, inside the approval store's atomic step.
      const step: StepInput = {
        sessionId,
        principal,
        agent,
        connection: request.connection,
        sql: request.sql,
        params: request.params,
        analysis,
        decision,
        recordDecision,
        recordAfter: (drafts) => recordHere([...drafts]),
        approverPolicy: policy,
        relations: () => resolveRelations(request, analysis),
        // The approvers' blast radius: EXPLAIN without ANALYZE, read-only, rolled back — and only
        // when the planner would call nothing off the read allowlist (estimate.ts, guard 0).
        estimate: () => estimatePlan(target, statementFor(request, analysis), analysis, plannerSafety(statement, analysis, request.connection, principal)),
      };
      if (request.approvalId === undefined) {
        const outcome = await holdForApproval(deps.approvals, step);
        if (outcome.kind === 'refused') throw new SessionError(sessionId, outcome.error);
        caller.observe?.({ decision: outcome.decision.action });
        const { id, expiresAt, quorum, approvers } = outcome.approval;
        const held = outcome.kind === 'held' ? { id, expiresAt, quorum, approvers } : undefined;
        return { sessionId, principal, request, analysis, statement, decision: outcome.decision, ...(held ? { held } : {}), ...(head ? { head } : {}) };
      }
      // An approval is spent once (its approval.redeemed), so the result bytes the statement will
      // need are reserved first: a process whose budget is full refuses before the human's
      // approval is used, and the bot presents it again later (docs/approvals.md).
      const reserved = await reserveBeforeRedeeming(request, analysis, decision, recordDecision, sessionId);
      let outcome;
      try {
        outcome = await redeemApproval(deps.approvals, step, request.approvalId);
      } catch (e) {
        reserved?.();
        throw e;
      }
      if (outcome.kind === 'refused') {
        reserved?.();
        throw new SessionError(sessionId, outcome.error);
      }
      caller.observe?.({ decision: outcome.decision.action });
      return { sessionId, principal, request, analysis, statement, decision: outcome.decision, ...(head ? { head } : {}), ...(reserved ? { reserved } : {}) };
    }
    await recordDecision(decision);
    return { sessionId, principal, request, analysis, statement, decision, ...(head ? { head } : {}) };
  }

  async function execute({
    sessionId,
    request,
    analysis,
    statement: parsed,
    head,
    reserved,
  }: Admitted): Promise<{ result: StatementResult; columns: readonly ColumnOutcome[]; release: () => void }> {
    const statement = statementFor(request, analysis);
    const { connection, sql } = statement;
    const { masker } = deps;
    // The outcome protocol (docs/outcomes.md): execution.result before COMMIT, then
    // execution.committed (writes) or execution.rolled_back. Never a record of a success that
    // did not become durable; what the gateway cannot know, reconciliation closes later.
    let resultRecorded = false;
    let columns: readonly ColumnOutcome[] = [];
    let maskedRows: unknown[][] = [];
    let release = () => {};
    inFlight.add(sessionId);
    try {
      // Before anything reaches the target: refused here (result_budget_exhausted), nothing ran.
      if (reserved) release = holdUntilWritten(reserved);
      else if (deps.resultBudget) release = holdUntilWritten(await deps.resultBudget.reserve(statement.maxResultBytes));
      // Parses for lineage and warms the catalog before the statement holds a connection; refuses
      // (masking_denied) what `derived: deny` forbids, before anything ran.
      const prepared = await masker.prepare({ connection, sql, statement: parsed });
      const result = await target.run({
        ...statement,
        // As the rows start: masked cells cost the byte budget the same whatever their value.
        maskedColumns: (fields) => masker.maskedColumns(prepared, fields),
        beforeCommit: async (raw) => {
          // 7 mask, then 8 record, before a write's COMMIT: if the result cannot be recorded, the
          // write rolls back (a read's has ended, and nothing is answered). Only the masked
          // result is stored and returned.
          const plan = await masker.plan({ connection, sql, statement: parsed, fields: raw.fields, prepared });
          const masked = await masker.apply(plan, raw.rows);
          const rawHmacSha256 = await masker.rawDigest(raw.fields, raw.rows);
          const shown: StatementResult = { ...raw, rows: masked.rows };
          await recordOrFail(sessions, sessionId, [ev.executionResultEvent(shown, { decisions: masked.decisions, rawHmacSha256 })], head ? { after: head } : undefined);
          columns = masked.columns;
          maskedRows = masked.rows;
          resultRecorded = true;
        },
      });
      // COMMIT succeeded. A write says so; if the log cannot take it now, the write still
      // happened: answer it, and reconciliation records `committed` from the target's txid_status.
      if (!statement.readOnly) await sessions.append(sessionId, [ev.executionCommittedEvent()]).catch(() => {});
      return { result: { ...result, rows: maskedRows }, columns, release };
    } catch (e) {
      release();
      const error = await redacted(asGatehouseError(e), connection, parsed);
      if (!resultRecorded && isGatehouseError(e, 'audit_unavailable') && error.details?.reason === 'session_moved') {
        // Someone else appended to the session while it ran: reconciliation (another instance, the
        // CLI, the scheduled pass) judged it abandoned and closed it — a write as rolled_back, which
        // the ROLLBACK above has just made true; a read answered nothing. Its closing event stands;
        // another of ours after it would only repeat it.
      } else if (!resultRecorded && isGatehouseError(e, 'audit_unavailable')) {
        // The result could not be recorded, and the append was bounded on the server: it cannot
        // land later. A write was rolled back; a read's READ ONLY transaction had already ended
        // (its COMMIT is pipelined, docs/postgres-engine.md) and kept nothing, so it did not roll
        // back: it failed, and no row was answered. Say which if the log takes it now.
        const outcome = statement.readOnly ? ev.executionFailedEvent(error) : ev.executionRolledBackEvent(error);
        await sessions.append(sessionId, [outcome]).catch(() => {});
      } else if (!resultRecorded) {
        // Failed before a result existed: nothing committed. (PostgreSQL's messages can quote
        // row values, `invalid input syntax … "123-45-6789"`, hence redacted.)
        await record(sessionId, [ev.executionFailedEvent(error)]).catch((recordError: unknown) => {
          throw new SessionError(sessionId, asGatehouseError(recordError));
        });
      } else if (error.details?.commit === 'rolled_back') {
        await sessions.append(sessionId, [ev.executionRolledBackEvent(error)]).catch(() => {});
      }
      // Otherwise COMMIT's fate is unknown (the connection broke): the session stays at `result`
      // until reconciliation asks the target whether that transaction committed.
      throw new SessionError(sessionId, error);
    } finally {
      inFlight.delete(sessionId);
    }
  }

  async function redacted(error: GatehouseError, connection: string, statement: Statement): Promise<GatehouseError> {
    if (error instanceof SessionError) return error;
    const sqlstate = typeof error.details?.sqlstate === 'string' ? error.details.sqlstate : undefined;
    const position = typeof error.details?.position === 'number' ? error.details.position : undefined;
    const shown = await deps.masker.redactError({ connection, sql: statement.sql, statement, message: error.message, sqlstate, position });
    if (shown.withheld) {
      // Only what names the failure, never what the server said about the data — but what is
      // known of COMMIT (`commit`) is the gateway's own fact, and the outcome it records rests on it.
      const kept = Object.fromEntries(Object.entries(error.details ?? {}).filter(([k]) => k === 'sqlstate' || k === 'condition' || k === 'position' || k === 'commit'));
      return new GatehouseError(error.code, shown.message, { ...kept, withheld: true });
    }
    return shown.message === error.message ? error : new GatehouseError(error.code, shown.message, error.details ? { ...error.details } : undefined);
  }

  // --- helpers -------------------------------------------------------------------------------

  /** A reservation the transport gives back once the answer is written; a timer if it never does. */
  function holdUntilWritten(release: () => void): () => void {
    const timer = setTimeout(release, ANSWER_WRITE_BOUND_MS);
    timer.unref?.();
    return () => {
      clearTimeout(timer);
      release();
    };
  }

  function statementFor(request: QueryRequest, analysis: Analysis) {
    const connection = policy.connections[request.connection]!;
    return {
      connection: request.connection,
      sql: request.sql,
      params: request.params,
      // The parser's verdict is the first layer; READ ONLY makes PostgreSQL itself the second.
      readOnly: analysis.class === 'read',
      maxRows: Math.min(request.maxRows ?? connection.maxRows, connection.maxRows),
      statementTimeoutMs: connection.statementTimeoutMs,
      maxResultBytes: connection.maxResultBytes,
      maxCellBytes: connection.maxCellBytes,
      instanceId,
    };
  }

  /**
   * What the planner could call while it only plans this statement, judged as a read would be
   * (resolve.ts: calls, operators, casts, and the rules and row security of every relation it
   * reads or writes), for estimate.ts's guard 0. The statement's own class is not changed.
   */
  function plannerSafety(statement: Statement, analysis: Analysis, connection: string, principal: Principal): PlannerSafety {
    const cteOrAlias = (n: string) => !n.includes('.') && (statement.sites.aliases.get(n)?.includes(NOT_A_RELATION) ?? false);
    const relations = [...new Set([...analysis.tables.read, ...analysis.tables.written])].filter((n) => !cteOrAlias(n));
    return {
      relations,
      async calls() {
        // The estimate is recorded in the requester's own session: a count of the rows its
        // statement picks, by any predicate. Only a requester the policy lets read the connection
        // (as for describe_table) may learn that; for another, no estimate.
        if (decide(policy, { principal, connection, analysis: statements.statement('SELECT 1').analysis }).action !== 'allow') {
          return 'the requester may not read this connection, and a row estimate would count its rows';
        }
        // Under masking.predicates: deny the bot may not count rows by a masked column, and the
        // planner's row estimate (from the column's statistics: its most common values) is such a
        // count, shown to the bot in its own session. Such a statement is not explained.
        if (policy.masking.predicates === 'deny') {
          const why = 'it touches a masked column (masking.predicates: deny), and a row estimate would count by it';
          let prepared;
          try {
            prepared = await deps.masker.prepare({ connection, sql: statement.sql, statement });
          } catch (e) {
            if (isGatehouseError(e, 'masking_denied')) return why;
            throw e;
          }
          // What masking traces (views resolved), and — for what it does not trace in a write's
          // WHERE — any relation the policy masks a column of, by name (a bare name in any schema).
          if (prepared.readsStrategies.size > 0) return why;
          const masked = Object.keys(policy.masking.columns).map((k) => k.toLowerCase().split('.'));
          const named = relations.some((r) => {
            const parts = r.toLowerCase().split('.');
            const [table, schema] = [parts.at(-1), parts.length > 1 ? parts.at(-2) : undefined];
            return masked.some(([s, t]) => t === table && (schema === undefined || s === schema));
          });
          if (named) return why;
        }
        const asRead: Analysis = { ...analysis, class: 'read', reasons: [], tables: { read: relations, written: [] } };
        const verdict = await resolveWithCatalog(asRead, statement.sites, connection, catalogPorts, listed);
        if (verdict.analysis.class === 'read') return undefined;
        const reasons = verdict.analysis.reasons;
        return `the planner could run what it calls off the read allowlist (${reasons.slice(0, 3).join('; ')}${reasons.length > 3 ? '; …' : ''})`;
      },
    };
  }

  /** What the relations and functions the statement names are on its connection now (approvals/relations.ts). */
  async function resolveRelations(request: QueryRequest, analysis: Analysis): Promise<BoundRelations> {
    const names = namedObjects(analysis);
    const { rows } = await target.run({
      connection: request.connection,
      sql: RESOLVE_RELATIONS,
      params: [JSON.stringify(names)], // a parameter is a scalar: the names as one JSON object
      readOnly: true,
      maxRows: 1,
      statementTimeoutMs: Math.min(policy.connections[request.connection]!.statementTimeoutMs, 5_000),
    });
    return parseResolved(rows[0]?.[0], names);
  }

  function record(sessionId: string, drafts: EventDraft[]): Promise<void> {
    return recordOrFail(sessions, sessionId, drafts);
  }

  /** record(), keeping what was stored (the session's new head). */
  async function recordEvents(sessionId: string, drafts: EventDraft[]): Promise<SessionEvent[]> {
    let stored: SessionEvent[] = [];
    await recordOrFail({ append: async (id, d, o) => (stored = await sessions.append(id, d, o)) }, sessionId, drafts);
    return stored;
  }

  async function readSession(sessionId: string): Promise<SessionEvent[]> {
    try {
      return await sessions.read(sessionId);
    } catch (e) {
      if (isGatehouseError(e)) throw e;
      throw new GatehouseError('audit_unavailable', 'session log unavailable', undefined, { cause: e });
    }
  }

  function maySee(principal: Principal, request: SessionEvent): boolean {
    if (principal.groups.some((g) => auditorGroups.includes(g))) return true;
    const who = dataOf(request, 'request')?.principal;
    return who?.issuer !== undefined && who.subject !== undefined && samePrincipal({ issuer: who.issuer, subject: who.subject }, principal);
  }

  function agentDenial(code: string, reason: string): Decision {
    return { action: 'deny', rule: code === 'model_required' ? 'agents.requireModel' : 'agents.allowedModels', reasons: [reason], policySha256: policy.sha256 };
  }

  /**
   * The result budget for a statement about to redeem an approval. Taken: the session records the
   * statement as not run (a deny naming the budget, as for a store that is down) and the approval
   * is left as it was.
   */
  async function reserveBeforeRedeeming(
    request: QueryRequest,
    analysis: Analysis,
    decision: Decision,
    recordDecision: (d: Decision) => Promise<void>,
    sessionId: string,
  ): Promise<(() => void) | undefined> {
    if (!deps.resultBudget) return undefined;
    try {
      return await deps.resultBudget.reserve(statementFor(request, analysis).maxResultBytes);
    } catch (e) {
      const error = asGatehouseError(e);
      await recordDecision({ ...decision, action: 'deny', reasons: [...decision.reasons, `approved, but ${error.code}: not run, and the approval not used`] });
      throw new SessionError(sessionId, error);
    }
  }

  function approvalsUnavailable(decision: Decision): Decision {
    // Until an approval store is wired in, a statement that needs a human is not run: fail closed.
    return {
      action: 'deny',
      rule: decision.rule,
      reasons: [...decision.reasons, 'approval required, but this deployment has no approval workflow: not run'],
      policySha256: decision.policySha256,
    };
  }
}

export type Gateway = ReturnType<typeof createGateway>;
