import test from 'ava';
import { forAmbiguous, forDerived, last4, maskEmail, pseudonym, REDACTED, strategyFn, strictest, STRICTNESS } from '../../shared/masking/strategies.ts';

const KEY = new Uint8Array(32).fill(1);

test('redact and null hide every kind of value; null stays null under every strategy', (t) => {
  const values = ['ada@example.com', 42, 4111111111111111, true, '2024-01-01', { a: 'x' }, ['x', 'y']];
  for (const v of values) {
    t.is(strategyFn('redact')(v), REDACTED);
    t.is(strategyFn('null')(v), null);
  }
  for (const s of STRICTNESS) t.is(strategyFn(s, KEY)(null), null);
});

test('email keeps only the domain of one plain address; anything else is redacted', (t) => {
  t.is(maskEmail('ada.lovelace@example.com'), '***@example.com');
  t.is(maskEmail('Ada+tag@Mail.Example.CO.UK'), '***@mail.example.co.uk');
  for (const v of ['not an email', '@example.com', 'ada@', 'ada@localhost', '"Ada" <ada@example.com>', 'a@b@example.com x', 'ada@exa mple.com']) {
    t.is(maskEmail(v), REDACTED, v);
  }
  const email = strategyFn('email');
  t.is(email(12345), REDACTED);
  t.is(email({ email: 'ada@example.com' }), REDACTED);
});

test('last4 keeps the last four digits (or characters) of long values only', (t) => {
  t.is(last4('4111111111111111'), '••••1111');
  t.is(last4('4111 1111 1111 1234'), '••••1234');
  t.is(last4('901-12-3401'), '••••3401');
  t.is(last4('ABCDEFGHIJ'), '••••GHIJ');
  // Four characters of a short value would be most of it.
  t.is(last4('1234'), '••••');
  t.is(last4('secret7'), '••••');
  const fn = strategyFn('last4');
  t.is(fn(4111111111111111), '••••1111');
  t.is(fn('5555555555554444'), '••••4444');
  t.is(fn(['4111111111111111']), REDACTED);
  t.is(fn({ n: '4111111111111111' }), REDACTED);
});

test('hash is a keyed pseudonym: stable for one key, different for another, never the value', (t) => {
  const a = strategyFn('hash', KEY);
  const b = strategyFn('hash', new Uint8Array(32).fill(2));
  t.regex(String(a('ada@example.com')), /^h:[0-9a-f]{16}$/);
  t.is(a('ada@example.com'), a('ada@example.com'));
  t.not(a('ada@example.com'), a('alan@example.com'));
  t.not(a('ada@example.com'), b('ada@example.com'));
  t.is(a(42), a('42')); // joins across int and text keys still match
  t.is(a({ x: 1 }), pseudonym(KEY, '{"x":1}'));
  t.throws(() => strategyFn('hash'), { instanceOf: TypeError });
});

test('strictness: null > redact > hash > email > last4, and derived values lose the partial strategies', (t) => {
  t.deepEqual(STRICTNESS, ['null', 'redact', 'hash', 'email', 'last4']);
  t.is(strictest(['last4', 'email']), 'email');
  t.is(strictest(['email', 'hash', 'last4']), 'hash');
  t.is(strictest(['hash', 'redact']), 'redact');
  t.is(strictest(['redact', 'null']), 'null');
  t.is(strictest([]), null);
  t.is(forDerived('email'), 'redact');
  t.is(forDerived('last4'), 'redact');
  t.is(forDerived('hash'), 'redact'); // equality of chosen parts is a codebook
  t.is(forDerived('null'), 'null');
  t.is(forAmbiguous('email'), 'redact');
  t.is(forAmbiguous('last4'), 'redact');
  t.is(forAmbiguous('hash'), 'hash');
});

test('the precomputed HMAC-SHA256 equals node:crypto for every length, key size and script', async (t) => {
  const { createHmac, randomBytes } = await import('node:crypto');
  const { keyedHmac } = await import('../../shared/masking/hmac.ts');
  for (let n = 0; n < 400; n++) {
    const key = randomBytes(n % 4 === 0 ? 100 : 32); // keys over 64 bytes are hashed first
    const text = randomBytes(n % 200).toString('base64') + 'é€𝄞'.repeat(n % 3);
    t.is(keyedHmac(key).hex(text), createHmac('sha256', key).update(text, 'utf8').digest('hex'));
  }
  t.is(pseudonym(KEY, 'x'), `h:${createHmac('sha256', KEY).update('x').digest('hex').slice(0, 16)}`);
});
