// The CLI's `--store` value, parsed once: opening the store (infra/session-store-access.ts) and
// naming it in evidence (describeStore) must agree on what it points at. Errors never repeat the
// value: it may carry a password (postgres://user:pass@…, or one typed into the wrong form).

export type StoreOption =
  | { readonly kind: 'postgres'; readonly url: string }
  | { readonly kind: 'firestore'; readonly projectId: string; readonly databaseId: string };

/** The same default as GATEHOUSE_AUDIT_DATABASE in shared/config.ts (a test holds them equal). */
export const DEFAULT_AUDIT_DATABASE = 'gatehouse-audit';

const FIRESTORE_FORM = 'firestore://PROJECT[/DATABASE]';

// Parsed by hand, not with URL: for a non-special scheme it resolves `p/../x` to `x` and keeps
// case, percent-escapes and userinfo, so it would accept forms that name something else.
const FIRESTORE = /^firestore:\/\/([^/]*)(?:\/([^/]*))?$/;
// GCP's project id rule.
const PROJECT_ID = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
// Firestore's database id rule, as createFirestoreSessionLog checks it: 4–63 characters, not
// ending in a hyphen, so a form accepted here is never refused there.
const DATABASE_ID = /^(?:[a-z][a-z0-9-]{2,61}[a-z0-9]|\(default\))$/;

export function parseStoreOption(value: string): StoreOption {
  if (/^postgres(ql)?:\/\//.test(value)) return { kind: 'postgres', url: value };
  if (!value.startsWith('firestore:')) {
    throw new TypeError(`--store must be a postgres://… URL or ${FIRESTORE_FORM} (DATABASE defaults to ${DEFAULT_AUDIT_DATABASE})`);
  }
  const m = FIRESTORE.exec(value);
  const projectId = m?.[1] ?? '';
  const databaseId = m?.[2] ?? DEFAULT_AUDIT_DATABASE;
  if (!m || !PROJECT_ID.test(projectId) || !DATABASE_ID.test(databaseId)) {
    throw new TypeError(
      `--store must be ${FIRESTORE_FORM}: PROJECT a GCP project id (6–30 lowercase letters, digits and hyphens, starting with a letter, not ending with a hyphen), ` +
        `DATABASE a Firestore database id (4–63 of the same, or "(default)"); without DATABASE, ${DEFAULT_AUDIT_DATABASE}`,
    );
  }
  return { kind: 'firestore', projectId, databaseId };
}
