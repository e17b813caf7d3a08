import type { RiskClass } from './analysis.ts';

/** One thing the analysis noticed: its class and the sentence that explains it. */
export interface Finding {
  readonly class: RiskClass;
  readonly reason: string;
}

/** What one statement node is, on its own: its kind and what it does. */
export interface Verdict {
  readonly kind: string;
  readonly findings: readonly Finding[];
}

/** Most severe first: the order in which a finding decides the statement's class. */
export const SEVERITY: readonly RiskClass[] = ['unknown', 'privilege', 'destructive', 'ddl', 'write', 'session', 'read'];

export function severityRank(c: RiskClass): number {
  return SEVERITY.indexOf(c);
}

const GENERIC: Readonly<Record<RiskClass, (kind: string) => string>> = {
  read: (k) => `${k} only reads`,
  write: (k) => `${k} writes rows`,
  destructive: (k) => `${k} destroys data`,
  ddl: (k) => `${k} changes the schema`,
  privilege: (k) => `${k} changes roles, ownership or access rules`,
  session: (k) => `${k} changes session or transaction state`,
  unknown: (k) => `${k} has effects the parser cannot see`,
};

/** A verdict with one finding; the reason defaults to the class's generic sentence. */
export function verdict(kind: string, cls: RiskClass, reason = GENERIC[cls](kind)): Verdict {
  return { kind, findings: [{ class: cls, reason }] };
}
