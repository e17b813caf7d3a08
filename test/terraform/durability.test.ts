// What keeps the audit trail: protected databases, a locked bucket, a scheduled export, dead
// letters; and variables and outputs a platform engineer can read.
import test from 'ava';
import { codes, findingsAfter } from './fixtures.ts';

test('a Firestore database without point-in-time recovery or delete protection is found', async (t) => {
  const f = await findingsAfter({
    file: 'firestore.tf',
    from: 'point_in_time_recovery_enablement = "POINT_IN_TIME_RECOVERY_ENABLED"',
    to: 'point_in_time_recovery_enablement = "POINT_IN_TIME_RECOVERY_DISABLED"',
  });
  t.deepEqual(codes(f), ['firestore_protection']);
  const g = await findingsAfter({ file: 'firestore.tf', from: 'delete_protection_state           = "DELETE_PROTECTION_ENABLED"', to: 'delete_protection_state           = "DELETE_PROTECTION_DISABLED"' });
  t.deepEqual(codes(g), ['firestore_protection']);
});

test('an unlocked retention policy, or a lock that defaults to off, is found', async (t) => {
  t.deepEqual(codes(await findingsAfter({ file: 'audit-export.tf', from: 'is_locked        = var.retention_locked', to: 'is_locked        = false' })), ['retention_unlocked']);
  const f = await findingsAfter({ file: 'variables.tf', from: 'type        = bool\n  default     = true', to: 'type        = bool\n  default     = false' });
  t.deepEqual(codes(f), ['retention_unlocked']);
});

test('no scheduled export of the audit database is found', async (t) => {
  const f = await findingsAfter({ file: 'audit-export.tf', from: ':exportDocuments', to: ':listDocuments' });
  t.deepEqual(codes(f), ['audit_export_missing']);
});

test('a notify subscription without a dead-letter topic is found', async (t) => {
  const f = await findingsAfter({ file: 'pubsub.tf', from: 'dead_letter_policy {', to: 'dynamic_not_dead_letter {' });
  t.deepEqual(codes(f), ['dead_letter_missing']);
});

test('a variable or output without a description is found', async (t) => {
  const f = await findingsAfter({ file: 'variables.tf', to: 'variable "undocumented" {\n  type = string\n}' });
  t.deepEqual(f.map((x) => [x.code, x.where]), [['undocumented', 'variables.tf: variable.undocumented']]);
});

test('a file Terraform could not parse stops the check with its name', async (t) => {
  await t.throwsAsync(findingsAfter({ file: 'pubsub.tf', to: 'resource "google_pubsub_topic" "broken" {' }), { name: 'TerraformParseError', message: /pubsub\.tf/ });
});
