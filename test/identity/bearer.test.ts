import test from 'ava';
import { isGatehouseError } from '../../shared/errors.ts';
import { bearerToken } from '../../shared/identity/index.ts';

test('bearerToken takes the token of a Bearer header, scheme in any case', (t) => {
  t.is(bearerToken('Bearer eyJ.eyJ.sig'), 'eyJ.eyJ.sig');
  t.is(bearerToken('bearer abc'), 'abc');
  t.is(bearerToken('BEARER  abc-_~+/='), 'abc-_~+/=');
});

test('bearerToken: anything else is token_missing', (t) => {
  for (const header of [undefined, '', 'Bearer', 'Bearer ', 'Basic dXNlcjpwdw==', 'Token abc', 'Bearerabc', 'Bearer a b', 'Bearer a,b', 'abc']) {
    const error = t.throws(() => bearerToken(header));
    t.true(isGatehouseError(error, 'token_missing'), String(header));
  }
});
