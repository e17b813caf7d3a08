// The aud check both verification paths end in. jose and google-auth-library check aud too; this
// one must hold by itself should either library's check ever be skipped.
import test from 'ava';
import { isGatehouseError } from '../../shared/errors.ts';
import { principalFromClaims, type ClaimContext } from '../../shared/identity/claims.ts';
import type { CheckedIssuer } from '../../shared/identity/options.ts';

const NOW = new Date('2031-03-04T05:06:07Z');
const NOW_SEC = Math.floor(NOW.getTime() / 1000);
const ISSUER: CheckedIssuer = {
  issuer: 'https://idp.example.com',
  audiences: ['gatehouse-query', 'gatehouse-approvals'],
  jwksUri: 'https://idp.example.com/jwks.json',
};
const CTX: ClaimContext = { now: NOW, toleranceSec: 30, groupsByEmail: new Map(), requireVerifiedEmail: false };

const claims = (aud: unknown) => ({ iss: ISSUER.issuer, sub: 's1', iat: NOW_SEC, exp: NOW_SEC + 60, aud });

test('accepted: aud names one of the configured audiences, alone or in a list', (t) => {
  for (const aud of ['gatehouse-query', 'gatehouse-approvals', ['other', 'gatehouse-approvals']]) {
    t.is(principalFromClaims(claims(aud), ISSUER, CTX).subject, 's1', JSON.stringify(aud));
  }
});

test('refused: aud names none of them, or is not a string or a list', (t) => {
  const bad: unknown[] = [
    undefined,
    null,
    '',
    'gatehouse',
    'Gatehouse-Query',
    'gatehouse-query,gatehouse-approvals',
    [],
    ['other'],
    [['gatehouse-query']],
    { 0: 'gatehouse-query' },
    42,
  ];
  for (const aud of bad) {
    const error = t.throws(() => principalFromClaims(claims(aud), ISSUER, CTX), undefined, JSON.stringify(aud));
    t.true(isGatehouseError(error, 'token_audience_mismatch'), `${JSON.stringify(aud)}: ${error?.message}`);
  }
});
