// Vote signatures in `evidence verify` (shared/evidence/votes.ts): real votes signed by the
// approval desk through the approvals flow verify; votes forged with the query path's rights —
// appended to the log, perfectly chained — are named, each by its code, in the result, in --json
// and in the CLI's exit status. Real gateway, real PostgreSQL, real signatures.
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import type { SessionEvent } from '../../shared/audit/events.ts';
import { exportEvidence } from '../../shared/evidence/export.ts';
import { verifyEvidence, type VerifyResult } from '../../shared/evidence/verify.ts';
import { DBA, DESK_PUBLIC_KEY, startEvidenceFixture, type EvidenceFixture } from './fixture.ts';
import { editJson, readJsonl, runCli, tempDir } from './helpers.ts';
import { heldRequest, signedGrant, voteSignature } from './signed-votes.ts';

let fx: EvidenceFixture;
/** Before any forgery below: the fixture's own sessions only. */
let cleanTo: Date;
test.before(async () => {
  fx = await startEvidenceFixture();
  cleanTo = new Date();
});
test.after.always(async () => {
  await fx?.close();
});

const attacker = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ATTACKER_PUBLIC = attacker.publicKey.export({ type: 'spki', format: 'pem' }).toString();

function keyFile(t: Parameters<typeof tempDir>[0], pem: string): string {
  const path = join(tempDir(t), 'key.pem');
  writeFileSync(path, pem);
  return path;
}

async function exportRange(t: Parameters<typeof tempDir>[0], from: Date, to: Date, votePublicKeyPem: string | null = DESK_PUBLIC_KEY): Promise<string> {
  const out = join(tempDir(t), 'export');
  await exportEvidence(fx.log, { from, to, out, source: 'test', ...(votePublicKeyPem === null ? {} : { votePublicKeyPem }) });
  return out;
}

const kinds = (r: VerifyResult) => r.problems.map((p) => p.kind);

/** The real, desk-signed vote of the fixture's held write. */
async function realVote(): Promise<{ event: SessionEvent; requested: SessionEvent }> {
  const events = await fx.log.read(fx.byKind('held').sessionId);
  return { event: events.find((e) => e.type === 'approval.granted')!, requested: events.find((e) => e.type === 'approval.requested')! };
}

/** A session appended with the query path's rights: a request held for approval, then `vote` as its approval.granted. */
async function forgedSession(vote: (approvalId: string, sessionId: string, digest: string) => Record<string, unknown>): Promise<{ sessionId: string; from: Date; to: Date }> {
  const from = new Date();
  const sessionId = randomUUID();
  const approvalId = randomUUID();
  const digest = 'f'.repeat(64);
  await fx.log.append(sessionId, heldRequest(fx.gw.issuer, approvalId, digest));
  await fx.log.append(sessionId, [{ type: 'approval.granted', data: { approvalId, ...vote(approvalId, sessionId, digest) } }]);
  return { sessionId, from, to: new Date(Date.now() + 1) };
}

const alice = () => ({ issuer: fx.gw.issuer, subject: DBA, email: DBA });

test('real votes signed by the approval desk verify: with the key the manifest names, and with the published key', async (t) => {
  const out = await exportRange(t, fx.from, cleanTo);
  const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
  t.regex(manifest.votes.publicKeyPem, /BEGIN PUBLIC KEY/);
  t.regex(manifest.votes.fingerprint, /^[0-9a-f]{64}$/);
  const events = readJsonl(join(out, 'events.jsonl'));
  const granted = events.filter((e) => e.type === 'approval.granted');
  t.is(granted.length, 1);
  t.truthy(granted[0].data.signature?.value, 'the vote in the export is the signed one');

  const verification = JSON.parse(readFileSync(join(out, 'verification.json'), 'utf8'));
  t.true(verification.ok);
  t.deepEqual(verification.votes, { fingerprint: manifest.votes.fingerprint, problems: 0, listed: [] });

  const own = await verifyEvidence(out);
  t.deepEqual(own.problems, []);
  t.true(own.ok);
  t.is(own.votes?.checked, 1);
  t.is(own.votes?.keyFrom, 'manifest');

  const published = await verifyEvidence(out, { votePublicKey: keyFile(t, DESK_PUBLIC_KEY) });
  t.deepEqual(published.problems, []);
  t.is(published.votes?.keyFrom, '--vote-public-key');
  t.is(published.votes?.fingerprint, manifest.votes.fingerprint);
});

test.serial('vote_unsigned: a correctly chained approval.granted appended with the query path’s rights, no signature', async (t) => {
  const s = await forgedSession(() => ({ approver: alice(), comment: 'lgtm', quorumMet: true, state: 'approved' }));
  const out = await exportRange(t, s.from, s.to);
  // The export says so itself: it checked the votes with the desk key it records.
  const verification = JSON.parse(readFileSync(join(out, 'verification.json'), 'utf8'));
  t.false(verification.ok);
  t.is(verification.chainsBroken, 0, 'the chain holds: the attacker appended through the store');
  t.like(verification.votes, { problems: 1 });
  t.deepEqual(verification.votes.listed.map((p: { kind: string; sessionId: string }) => [p.kind, p.sessionId]), [['vote_unsigned', s.sessionId]]);
  t.regex(readFileSync(join(out, 'report.html'), 'utf8'), /NOT INTACT \(chains, the global log or votes\)/);
  for (const r of [await verifyEvidence(out), await verifyEvidence(out, { votePublicKey: keyFile(t, DESK_PUBLIC_KEY) })]) {
    t.false(r.ok);
    t.deepEqual(kinds(r), ['vote_unsigned']);
    t.is(r.problems[0]!.sessionId, s.sessionId);
    t.is(r.problems[0]!.seq, 3);
    t.is(r.problems[0]!.line, 4, 'the line in events.jsonl');
  }
});

test.serial('vote_signature_invalid: a vote signed with another key, in more than one form', async (t) => {
  const { event } = await realVote();
  const signWith = (vote: unknown) => voteSignature(vote, attacker.privateKey, 'local:forged');
  const cases: Record<string, (approvalId: string, sessionId: string, digest: string) => Record<string, unknown>> = {
    // A vote of the right shape for this session, signed by someone who is not the desk.
    'attacker key': (approvalId, sessionId, digest) => {
      const vote = { ...(event.data.vote as object), approvalId, sessionId, digest };
      return { approver: alice(), vote, signature: signWith(vote) };
    },
    // The desk's real signature, over a vote edited to fit this session.
    'edited vote, real signature': (approvalId, sessionId, digest) => ({ approver: alice(), vote: { ...(event.data.vote as object), approvalId, sessionId, digest }, signature: event.data.signature }),
    'not base64': () => ({ approver: alice(), vote: event.data.vote, signature: { alg: 'ES256', keyId: 'x', value: '!!!' } }),
    'wrong algorithm': () => ({ approver: alice(), vote: event.data.vote, signature: { ...(event.data.signature as object), alg: 'RS256' } }),
    'signature is a string': () => ({ approver: alice(), vote: event.data.vote, signature: 'MEUCIQ…' }),
    'signature without a vote': () => ({ approver: alice(), signature: event.data.signature }),
  };
  for (const [label, vote] of Object.entries(cases)) {
    const s = await forgedSession(vote);
    const r = await verifyEvidence(await exportRange(t, s.from, s.to));
    t.deepEqual(kinds(r), ['vote_signature_invalid'], label);
    t.is(r.problems[0]!.sessionId, s.sessionId, label);
  }
});

test.serial('vote_signature_invalid: the desk’s real signed vote replayed into another session (or shown as another approver)', async (t) => {
  const { event } = await realVote();
  // Verbatim copy: valid signature, but over another approval, session and statement.
  const copied = await forgedSession(() => ({ approver: alice(), vote: event.data.vote, signature: event.data.signature }));
  const r = await verifyEvidence(await exportRange(t, copied.from, copied.to));
  t.deepEqual(kinds(r), ['vote_signature_invalid']);
  t.regex(r.problems[0]!.message, /approval, session, statement digest/);
  // A copy that keeps the approval id (a second session claiming it): still another session.
  const sameId = await forgedSession(() => ({ approver: { issuer: fx.gw.issuer, subject: 'bob@acme.com', email: 'bob@acme.com' }, vote: event.data.vote, signature: event.data.signature }));
  const r2 = await verifyEvidence(await exportRange(t, sameId.from, sameId.to));
  t.deepEqual(kinds(r2), ['vote_signature_invalid']);
  t.regex(r2.problems[0]!.message, /approver/);
});

test.serial('vote_repeated: a genuine signed vote appended a second time, its unsigned comment and quorumMet edited', async (t) => {
  let first: Record<string, unknown> | undefined;
  // Signed by the desk's own key, for exactly this session: every check of a single vote holds.
  const s = await forgedSession((approvalId, sessionId, digest) => (first = signedGrant({ approvalId, sessionId, digest }, alice())));
  const once = await verifyEvidence(await exportRange(t, s.from, s.to));
  t.deepEqual(kinds(once), [], 'one signed vote: nothing wrong');
  // The same signed vote again, as the query path's rights can append it.
  await fx.log.append(s.sessionId, [{ type: 'approval.granted', data: { approvalId: (first!.vote as { approvalId: string }).approvalId, ...first!, comment: 'second reviewer agrees', quorumMet: true } }]);
  const out = await exportRange(t, s.from, new Date(Date.now() + 1));
  for (const fullPass of [false, true]) {
    const r = await verifyEvidence(out, { fullPass });
    t.deepEqual(kinds(r), ['vote_repeated'], `fullPass ${fullPass}: ${JSON.stringify(r.problems)}`);
    t.is(r.problems[0]!.sessionId, s.sessionId);
    t.is(r.problems[0]!.seq, 4, 'the second one is the replay');
  }
});

test.serial('vote_repeated across spellings of one person: a second issuer, a case-folded domain, an email-shaped subject', async (t) => {
  // Each second vote is desk-signed for this very approval and shows its own signer: only
  // "one person, twice" is wrong with it — what castVote and redemption refuse (samePerson).
  const variants: Record<string, { issuer: string; subject: string; email?: string }> = {
    'another issuer, same email': { issuer: 'https://second-issuer.test', subject: 'alice-2', email: DBA },
    'another issuer, domain in capitals': { issuer: 'https://second-issuer.test', subject: 'alice-3', email: DBA.replace('acme.com', 'ACME.COM') },
    'another issuer, the email as subject, no email claim': { issuer: 'https://second-issuer.test', subject: DBA },
  };
  for (const [label, second] of Object.entries(variants)) {
    let ids: { approvalId: string; sessionId: string; digest: string } | undefined;
    const s = await forgedSession((approvalId, sessionId, digest) => signedGrant((ids = { approvalId, sessionId, digest }), alice()));
    await fx.log.append(s.sessionId, [{ type: 'approval.granted', data: signedGrant(ids!, second) }]);
    const out = await exportRange(t, s.from, new Date(Date.now() + 1));
    for (const fullPass of [false, true]) {
      const r = await verifyEvidence(out, { fullPass });
      t.deepEqual(kinds(r), ['vote_repeated'], `${label}, fullPass ${fullPass}: ${JSON.stringify(r.problems)}`);
      t.is(r.problems[0]!.seq, 4, label);
    }
  }
});

test.serial('a whole export made by an attacker with their own key: passes on its own key, fails against the published one', async (t) => {
  const s = await forgedSession((approvalId, sessionId, digest) => {
    const vote = { v: 'gatehouse-vote/1', approvalId, sessionId, digest, verdict: 'approve', approver: { issuer: fx.gw.issuer, subject: DBA, email: DBA, groups: ['dba'] }, token: { iss: fx.gw.issuer, sub: DBA, iat: 1, sha256: '0'.repeat(64) }, as: 'group:dba', policySha256: '0'.repeat(64), at: new Date().toISOString() };
    return { approver: alice(), vote, signature: voteSignature(vote, attacker.privateKey, 'local:attacker') };
  });
  // The attacker runs the export and records their own key as the desk's.
  const out = await exportRange(t, s.from, s.to, ATTACKER_PUBLIC);
  const alone = await verifyEvidence(out);
  t.true(alone.ok, 'self-consistent: this is why the published key matters');
  const published = await verifyEvidence(out, { votePublicKey: keyFile(t, DESK_PUBLIC_KEY) });
  t.false(published.ok);
  t.deepEqual(kinds(published), ['vote_public_key_mismatch', 'vote_signature_invalid']);
});

test('vote_public_key_mismatch: the manifest’s desk key swapped; real votes then fail against it, and pass against the published key', async (t) => {
  const out = await exportRange(t, fx.from, cleanTo);
  editJson(join(out, 'manifest.json'), (m) => {
    m.votes.publicKeyPem = ATTACKER_PUBLIC;
    m.votes.fingerprint = 'a'.repeat(64);
  });
  t.deepEqual(kinds(await verifyEvidence(out)), ['vote_signature_invalid']);
  const published = await verifyEvidence(out, { votePublicKey: keyFile(t, DESK_PUBLIC_KEY) });
  t.deepEqual(kinds(published), ['vote_public_key_mismatch']);
});

test('vote_public_key_missing: votes and no key, or a key that is not one; never "ok"', async (t) => {
  const out = await exportRange(t, fx.from, cleanTo, null);
  t.is(JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')).votes, null);
  t.is(JSON.parse(readFileSync(join(out, 'verification.json'), 'utf8')).votes, null, 'the export checked no vote: it does not say they hold');
  const none = await verifyEvidence(out);
  t.false(none.ok);
  t.deepEqual(kinds(none), ['vote_public_key_missing']);
  t.true((await verifyEvidence(out, { votePublicKey: keyFile(t, DESK_PUBLIC_KEY) })).ok, 'the published key given at verify is enough');
  for (const bad of ['not a key', generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString()]) {
    const r = await verifyEvidence(out, { votePublicKey: keyFile(t, bad) });
    t.false(r.ok);
    t.true(kinds(r).includes('vote_public_key_missing'), bad.slice(0, 20));
  }
  const missing = await verifyEvidence(out, { votePublicKey: join(tempDir(t), 'nope.pem') });
  t.true(kinds(missing).includes('vote_public_key_missing'));
  // An export without any vote needs no key: the sessions before the held write.
  const sessions = readJsonl(join(out, 'sessions.jsonl'));
  const held = sessions.findIndex((x) => x.sessionId === fx.byKind('held').sessionId);
  const noVotes = await exportRange(t, fx.from, new Date(sessions[held].startedAt), null);
  const r = await verifyEvidence(noVotes);
  t.deepEqual(r.problems, []);
  t.is(r.votes?.checked, 0);
});

test.serial('the CLI: --vote-public-key, the code in the text and in --json, exit 1', async (t) => {
  const s = await forgedSession(() => ({ approver: alice(), comment: 'lgtm', quorumMet: true }));
  const out = await exportRange(t, s.from, s.to);
  const key = keyFile(t, DESK_PUBLIC_KEY);
  const text = await runCli(['evidence', 'verify', out, '--vote-public-key', key]);
  t.is(text.code, 1);
  t.regex(text.stderr, /\[vote_unsigned\] events\.jsonl:4/);
  const json = await runCli(['evidence', 'verify', out, '--vote-public-key', key, '--json']);
  t.is(json.code, 1);
  const r = JSON.parse(json.stdout || json.stderr);
  t.deepEqual(r.problems.map((p: { kind: string }) => p.kind), ['vote_unsigned']);
  t.is(r.votes.keyFrom, '--vote-public-key');
  const clean = await runCli(['evidence', 'verify', await exportRange(t, fx.from, cleanTo), '--vote-public-key', key]);
  t.is(clean.code, 0, clean.stderr);
  t.regex(clean.stdout, /votes +1 signed by the approval desk's key [0-9a-f]{16}… \(the published key given\)/);
});
