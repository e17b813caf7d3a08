// Utility statements whose class depends on what is inside them: EXPLAIN's options, SET's
// variable, ALTER TABLE's subcommands, DROP's objects, COPY's direction.

import { type Finding, type Verdict, verdict } from './finding.ts';
import { objectWords } from './kinds.ts';
import { type Fields, dottedName, fieldsOf, list, relationName, str, unwrap } from './nodes.ts';

/** Does this EXPLAIN run its statement? Any `analyze` option that is not plainly false counts. */
export function explainRuns(node: Fields): boolean {
  for (const option of list(node.options)) {
    const def = fieldsOf(option, 'DefElem');
    if (def === undefined || str(def.defname) !== 'analyze') continue;
    if (!plainlyFalse(def.arg)) return true;
  }
  return false;
}

function plainlyFalse(arg: unknown): boolean {
  const node = unwrap(arg);
  if (node === undefined) return false; // `ANALYZE` alone means true
  const [type, f] = node;
  if (type === 'Boolean') return f.boolval !== true;
  if (type === 'Integer') return f.ival === undefined || f.ival === 0;
  if (type === 'String') return ['false', 'off', 'no', 'f', 'n', '0'].includes(str(f.sval)?.toLowerCase() ?? '');
  return false;
}

// Settings that change who the session acts as, or switch off the triggers and foreign keys that
// guard the data (session_replication_role = replica).
const PRIVILEGE_SETTINGS: Readonly<Record<string, string>> = {
  role: 'changes the role the session acts as',
  session_authorization: 'changes the user the session acts as',
  session_replication_role: 'can switch off triggers and foreign-key checks',
};

export function variableSet(node: Fields): Verdict {
  const name = str(node.name)?.toLowerCase();
  const verb = node.kind === 'VAR_RESET' || node.kind === 'VAR_RESET_ALL' ? 'RESET' : 'SET';
  const effect = name === undefined ? undefined : PRIVILEGE_SETTINGS[name];
  if (name !== undefined && effect !== undefined) {
    const kind = `${verb} ${name === 'session_authorization' ? 'SESSION AUTHORIZATION' : name.toUpperCase()}`;
    return verdict(kind, 'privilege', `${kind} ${effect}`);
  }
  if (name === 'transaction' || name === 'session characteristics') return verdict(`SET ${name.toUpperCase()}`, 'session');
  return verdict(verb, 'session', `${verb} ${name ?? 'ALL'} changes session state`);
}

export function drop(node: Fields): Verdict {
  const kind = `DROP ${objectWords(node.removeType)}`;
  const names = droppedNames(node);
  return verdict(kind, 'destructive', `${kind} destroys ${names.length > 0 ? names.join(', ') : 'objects'}`);
}

/** Names of DROP's objects as written: `s.t` for lists of identifiers, the function name for functions. */
export function droppedNames(node: Fields): string[] {
  const out: string[] = [];
  for (const object of list(node.objects)) {
    const named = unwrap(object);
    if (named === undefined) continue;
    const [type, f] = named;
    const name =
      type === 'List' ? dottedName(f.items)
      : type === 'String' ? str(f.sval)
      : type === 'ObjectWithArgs' ? dottedName(f.objname)
      : type === 'TypeName' ? dottedName(f.names)
      : undefined;
    if (name !== undefined) out.push(name);
  }
  return out;
}

const PRIVILEGE_SUBCOMMANDS = new Set([
  'AT_ChangeOwner', 'AT_EnableRowSecurity', 'AT_DisableRowSecurity', 'AT_ForceRowSecurity', 'AT_NoForceRowSecurity',
]);

export function alterTable(node: Fields): Verdict {
  const kind = `ALTER ${objectWords(node.objtype, 'TABLE')}`;
  const target = relationName(node.relation) ?? 'a table';
  const findings: Finding[] = [];
  for (const cmd of list(node.cmds)) {
    const c = fieldsOf(cmd, 'AlterTableCmd');
    const sub = str(c?.subtype);
    if (sub === 'AT_DropColumn') {
      findings.push({ class: 'destructive', reason: `${kind} … DROP COLUMN ${str(c?.name) ?? ''} destroys that column's data in ${target}` });
    } else if (sub !== undefined && PRIVILEGE_SUBCOMMANDS.has(sub)) {
      findings.push({ class: 'privilege', reason: `${kind} changes the owner or row-level security of ${target}` });
    }
  }
  if (findings.length === 0) findings.push({ class: 'ddl', reason: `${kind} changes the definition of ${target}` });
  return { kind, findings };
}

export function copy(node: Fields): Verdict {
  const from = node.is_from === true;
  const table = relationName(node.relation) ?? 'a query';
  const file = str(node.filename);
  const reason =
    node.is_program === true ? `COPY ${from ? 'FROM' : 'TO'} PROGRAM runs a program on the database server`
    : file !== undefined ? `COPY ${from ? 'FROM' : 'TO'} a file ${from ? 'reads' : 'writes'} files on the database server`
    : from ? `COPY FROM loads rows into ${table} outside the row-by-row checks`
    : `COPY TO exports ${table} in bulk, outside row limits and masking`;
  return verdict('COPY', 'unknown', reason);
}

