import test from 'ava';
import { createVerifier, type VerifierOptions } from '../../shared/identity/index.ts';

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
