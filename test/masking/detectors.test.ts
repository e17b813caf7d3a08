import test from 'ava';
import { createDetectors, DETECTOR_NAMES, ibanValid, luhnValid } from '../../shared/masking/detectors.ts';

const all = createDetectors(DETECTOR_NAMES);
const found = (text: string) => all.scan(text).map((f) => [f.detector, text.slice(f.start, f.end)]);

test('emails, anywhere in the text, become ***@domain', (t) => {
  t.deepEqual(found('write to ada.lovelace@example.com.'), [['email', 'ada.lovelace@example.com']]);
  t.is(all.mask('a: x@y.org, b: Bob+1@Sub.Example.NET')!.text, 'a: ***@y.org, b: ***@sub.example.net');
  for (const no of ['user@localhost', '@example.com', 'a @ b', 'price@1.50', 'twitter @handle']) t.deepEqual(found(no), [], no);
});

test('payment cards: 13–19 digits, spaces or dashes, Luhn-checked', (t) => {
  for (const card of ['4111111111111111', '4111 1111 1111 1111', '4111-1111-1111-1111', '378282246310005', '30569309025904', '6011000990139424', '2223003122003222']) {
    t.deepEqual(found(`card ${card} on file`), [['card', card]], card);
  }
  t.true(luhnValid('4111111111111111'));
  t.false(luhnValid('4111111111111112'));
  // Not Luhn, too long, part of a longer run, or an id that does not start like a card.
  for (const no of ['4111111111111112', '41111111111111111111', '12345678-1234-1234-1234-123456789012', '1000000000000007', 'order 20240301123045']) {
    t.deepEqual(found(no).filter(([d]) => d === 'card'), [], no);
  }
});

test('US SSNs by shape, the never-issued 9xx area included', (t) => {
  t.deepEqual(found('ssn 901-12-3401'), [['ssn', '901-12-3401']]);
  t.deepEqual(found('123-45-6789;'), [['ssn', '123-45-6789']]);
  for (const no of ['2024-01-04', '123-456-7890', '1234-56-7890', '12-34-5678']) t.deepEqual(found(no).filter(([d]) => d === 'ssn'), [], no);
});

test('phone numbers: E.164 and US formats, not dates, amounts or ids', (t) => {
  for (const phone of ['+1-202-555-0101', '+12025550101', '+44 20 7946 0958', '(202) 555-0101', '202-555-0101', '202.555.0101', '1-202-555-0101']) {
    t.deepEqual(found(`call ${phone} now`), [['phone', phone]], phone);
  }
  for (const no of ['2024-01-04', '123.45', '2025550101', 'order 1042', '2023-01-04 09:12:00+00', '10:30-11:45', '192.168.100.1', 'v1.202.5550']) {
    t.deepEqual(found(no), [], no);
  }
});

test('IBANs: country length and mod-97', (t) => {
  t.deepEqual(found('IBAN DE89 3704 0044 0532 0130 00 please'), [['iban', 'DE89 3704 0044 0532 0130 00']]);
  t.deepEqual(found('GB82WEST12345698765432'), [['iban', 'GB82WEST12345698765432']]);
  t.true(ibanValid('DE89370400440532013000'));
  t.false(ibanValid('DE89370400440532013001'));
  t.deepEqual(found('DE89370400440532013001').filter(([d]) => d === 'iban'), []);
  t.deepEqual(found('ISO8601 AB12CDEFGHIJKLMNOP'), []);
});

test('secrets: JWTs, AWS keys, GitHub, Stripe and Slack tokens, PEM private keys', (t) => {
  const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U';
  const pem = '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----';
  for (const secret of [jwt, 'AKIAIOSFODNN7EXAMPLE', `ghp_${'a'.repeat(36)}`, `sk_live_${'x'.repeat(24)}`, 'xoxb-123456789012-abcdefABCDEF', pem]) {
    t.deepEqual(found(`token: ${secret} end`).map(([d]) => d), ['secret'], secret);
  }
  t.is(all.mask(`token: ${pem} end`)!.text, 'token: [REDACTED] end');
  t.is(all.mask(`cut: ${pem.slice(0, 50)}`)!.text, 'cut: [REDACTED]');
  for (const no of ['eyJ only', 'pk_live_publishable', '-----BEGIN CERTIFICATE-----', 'AKIA-not-a-key']) t.deepEqual(found(no), [], no);
});

test('ordinary data is not flagged', (t) => {
  for (const v of ['123.45', '2024-03-01', '2023-01-04T09:12:00.000Z', '42', '550e8400-e29b-41d4-a716-446655440000', 'delivered', 'Ada Lovelace', 'KB-001', 'Mechanical keyboard', '27-inch monitor', '1985-12-10', 'v2.3.11', '0.000001234']) {
    t.deepEqual(found(v), [], v);
  }
});

test('only enabled detectors run; an unknown name is a TypeError at start-up', (t) => {
  const emailOnly = createDetectors(['email']);
  t.deepEqual(emailOnly.scan('ada@example.com 901-12-3401').map((f) => f.detector), ['email']);
  t.deepEqual(createDetectors([]).scan('ada@example.com'), []);
  t.throws(() => createDetectors(['email', 'passport']), { instanceOf: TypeError });
});

test('crafted values cost linear time', (t) => {
  const started = performance.now();
  for (const v of ['a'.repeat(200_000) + '@', 'eyJ-'.repeat(50_000), '-----BEGIN '.repeat(20_000), '1 '.repeat(100_000), '+1'.repeat(100_000)]) all.scan(v);
  t.true(performance.now() - started < 2000);
});
