import test from 'ava';
import { createVerifier, type VerifierOptions } from '../../shared/identity/index.ts';
import type { IssuerConfig } from '../../shared/policy/types.ts';

const dev = { issuer: 'http://127.0.0.1:8080/dev', audience: 'gatehouse-local', jwksUri: 'http://127.0.0.1:8080/dev/jwks.json' };

test('the example policy\'s issuers are accepted', (t) => {
  t.notThrows(() => createVerifier({ issuers: [{ issuer: 'https://accounts.google.com', audience: 'https://gatehouse-query.example.run.app' }, dev], groups: {} }));
});

test('caller mistakes are TypeErrors at construction', (t) => {
  const bad: Array<[string, VerifierOptions]> = [
    ['no issuers', { issuers: [], groups: {} }],
    ['no jwksUri', { issuers: [{ issuer: 'https://idp.example.com', audience: 'a' }], groups: {} }],
    ['duplicate', { issuers: [dev, dev], groups: {} }],
    ['no audience', { issuers: [{ ...dev, audience: '' }], groups: {} }],
    ['jwksUri on Google', { issuers: [{ issuer: 'https://accounts.google.com', audience: 'a', jwksUri: 'https://www.googleapis.com/oauth2/v3/certs' }], groups: {} }],
    ['plain http off loopback', { issuers: [{ ...dev, jwksUri: 'http://idp.example.com/jwks.json' }], groups: {} }],
    ['not a URL', { issuers: [{ ...dev, jwksUri: 'jwks.json' }], groups: {} }],
    ['tolerance', { issuers: [dev], groups: {}, clockToleranceSec: 3600 }],
    ['groups', { issuers: [dev], groups: { dba: 'alice@acme.com' as unknown as string[] } }],
  ];
  for (const [name, options] of bad) t.throws(() => createVerifier(options), { instanceOf: TypeError }, name);
});

test('an issuer may list several audiences', (t) => {
  t.notThrows(() => createVerifier({ issuers: [{ ...dev, audience: ['gatehouse-local', 'gatehouse-approvals'] }], groups: {} }));
  t.notThrows(() => createVerifier({ issuers: [{ issuer: 'https://accounts.google.com', audience: ['https://q.example.run.app', '32555940559.apps.googleusercontent.com'] }], groups: {} }));
});

// Without the policy schema in front, these would reach google-auth-library, which skips the
// audience check when it is given no audience.
test('an audience that is missing, empty or not strings is a TypeError naming the field', (t) => {
  const bad: Array<[string, unknown, RegExp]> = [
    ['missing', undefined, /issuers\[0\]: audience is required/],
    ['empty string', '', /issuers\[0\]: audience is required/],
    ['empty list', [], /issuers\[0\]: audience must not be an empty list/],
    ['empty string in the list', ['gatehouse-local', ''], /issuers\[0\]: audience must list only non-empty strings/],
    ['non-string in the list', ['gatehouse-local', 42], /issuers\[0\]: audience must list only non-empty strings/],
    ['duplicate in the list', ['gatehouse-local', 'gatehouse-local'], /issuers\[0\]: audience lists gatehouse-local twice/],
    ['a number', 42, /issuers\[0\]: audience must be a string or a list of strings/],
    ['a mapping', { 0: 'gatehouse-local' }, /issuers\[0\]: audience must be a string or a list of strings/],
  ];
  for (const issuer of [dev, { issuer: 'https://accounts.google.com' }]) {
    for (const [name, audience, message] of bad) {
      const options: VerifierOptions = { issuers: [{ ...issuer, audience: audience as IssuerConfig['audience'] }], groups: {} };
      t.throws(() => createVerifier(options), { instanceOf: TypeError, message }, `${issuer.issuer}: ${name}`);
    }
  }
});
