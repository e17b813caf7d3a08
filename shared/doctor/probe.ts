// The doctor's adapter: runs queries.ts on one connection and returns Facts. Every query is tried
// on its own, so a server that lacks a view or refuses one (PGlite, a locked-down catalog) still
// yields the other checks; a refused query becomes an `error` check, never a pass.
import type { DoctorClient } from '../postgres/doctor-client.ts';
import { BUILTIN_UNTRUSTED_LANGUAGES, DANGEROUS_FUNCTION_PATTERNS, SERVER_ROLES, SQL_RUNNER_EXTENSIONS } from './dangerous.ts';
import * as Q from './queries.ts';
import type { Facts, Probe, SessionGroup } from './types.ts';

/** application_name of Gatehouse's pools (shared/postgres/pools.ts) and of the doctor itself. */
export const GATEHOUSE_APPLICATION_NAMES = ['gatehouse', 'gatehouse-doctor'] as const;

type Queryable = Pick<DoctorClient, 'query'>;

export async function probe(client: Queryable): Promise<Facts> {
  // One after another: a pg client runs one query at a time anyway, and the order keeps an
  // aborted probe's error on the query that caused it.
  const role = await attempt(client, Q.ROLE, [], (rows) => {
    const r = rows[0];
    if (!r || !Array.isArray(r.superusers)) throw new Error('no pg_roles answer for the session');
    const attributes = (['createrole', 'createdb', 'replication', 'bypassrls'] as const).filter((a) => r[a] === true).map((a) => a.toUpperCase());
    return { name: String(r.name), login: String(r.login), superuserRoles: r.superusers.map(String), attributes };
  });
  const serverVersion = await attempt(client, Q.SERVER_VERSION, [], (rows) => String(rows[0]?.v));
  const serverRoles = await attempt(client, Q.SERVER_ROLE_MEMBERSHIP, [[...SERVER_ROLES]], (rows) => rows.map((r) => String(r.name)));
  const dangerousFunctions = await attempt(client, Q.EXECUTABLE_DANGEROUS_FUNCTIONS, [[...DANGEROUS_FUNCTION_PATTERNS]], (rows) =>
    rows.map((r) => String(r.signature)),
  );
  const untrustedFunctions = await attempt(client, Q.EXECUTABLE_UNTRUSTED_FUNCTIONS, [[...BUILTIN_UNTRUSTED_LANGUAGES]], (rows) =>
    rows.map((r) => String(r.signature)),
  );
  const sessions = await attempt(client, Q.SIGNALLABLE_SESSIONS, [[...GATEHOUSE_APPLICATION_NAMES]], (rows) =>
    rows.map((r): SessionGroup => ({ role: String(r.role), gatehouse: r.gatehouse === true, count: Number(r.n) })),
  );
  const defaultReadOnly = await attempt(client, Q.DEFAULT_READ_ONLY, [], (rows) => {
    const v = String(rows[0]?.v);
    if (v !== 'on' && v !== 'off') throw new Error('unexpected setting value');
    return v === 'on';
  });
  const runners = await attempt(client, Q.SQL_RUNNERS, [[...SQL_RUNNER_EXTENSIONS], [...BUILTIN_UNTRUSTED_LANGUAGES]], (rows) => ({
    extensions: rows.filter((r) => r.kind === 'extension').map((r) => String(r.name)),
    languages: rows.filter((r) => r.kind === 'language').map((r) => String(r.name)),
  }));
  return { role, serverVersion, serverRoles, dangerousFunctions, untrustedFunctions, sessions, defaultReadOnly, runners };
}

async function attempt<T>(client: Queryable, sql: string, params: unknown[], read: (rows: Record<string, unknown>[]) => T): Promise<Probe<T>> {
  try {
    const { rows } = await client.query(sql, params);
    return { ok: true, value: read(rows) };
  } catch (e) {
    // The SQLSTATE only: a server's message can quote what it was given.
    const code = (e as { code?: unknown } | null)?.code;
    return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? { ok: false, sqlstate: code } : { ok: false };
  }
}
