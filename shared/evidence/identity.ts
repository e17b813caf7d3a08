// Who did something, as recorded: the requester's verified principal, or an approver.
import { field, firstText, record, texts } from './guards.ts';

export interface Identity {
  readonly issuer?: string;
  readonly subject?: string;
  readonly email?: string;
  readonly groups: readonly string[];
}

/** A principal record (shared/audit/drafts.ts principalRecord), or a bare email/subject string. */
export function identityOf(v: unknown): Identity | undefined {
  if (typeof v === 'string') return v.includes('@') ? { email: v, groups: [] } : { subject: v, groups: [] };
  const r = record(v);
  if (!r) return undefined;
  const id: Identity = {
    issuer: firstText(r, 'issuer', 'iss'),
    subject: firstText(r, 'subject', 'sub'),
    email: firstText(r, 'email'),
    groups: texts(field(r, 'groups')),
  };
  return id.issuer ?? id.subject ?? id.email ? id : undefined;
}

/** The name an auditor knows someone by: the verified email, else the subject. */
export function displayName(id: Identity | undefined): string {
  return id?.email ?? id?.subject ?? '';
}
