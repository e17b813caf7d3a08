// Which trace a request belongs to, from headers a caller controls: only well-formed ids pass.
import test from 'ava';
import { traceField, traceOf } from '../../functions/request-log.ts';

const ID = '4bf92f3577b34da6a3ce929d0e0e4736';

test('traceparent (W3C): trace id, span id, sampled flag', (t) => {
  t.deepEqual(traceOf({ traceparent: `00-${ID}-00f067aa0ba902b7-01` }), { traceId: ID, spanId: '00f067aa0ba902b7', sampled: true });
  t.deepEqual(traceOf({ traceparent: `00-${ID.toUpperCase()}-00F067AA0BA902B7-00` }), { traceId: ID, spanId: '00f067aa0ba902b7', sampled: false });
});

test('X-Cloud-Trace-Context: TRACE/SPAN;o=1 with a decimal span id, or the trace alone', (t) => {
  t.deepEqual(traceOf({ 'x-cloud-trace-context': `${ID}/1;o=1` }), { traceId: ID, spanId: '0000000000000001', sampled: true });
  t.deepEqual(traceOf({ 'x-cloud-trace-context': ID }), { traceId: ID });
});

test('traceparent wins over X-Cloud-Trace-Context', (t) => {
  const other = 'a'.repeat(32);
  t.is(traceOf({ traceparent: `00-${ID}-00f067aa0ba902b7-01`, 'x-cloud-trace-context': `${other}/1` })?.traceId, ID);
});

test('malformed, all-zero or injected values are no trace', (t) => {
  for (const traceparent of [
    '',
    'garbage',
    `00-${ID}-00f067aa0ba902b7`,
    `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`,
    `00-${ID}-${'0'.repeat(16)}-01`,
    `00-${ID}-00f067aa0ba902b7-01\n{"severity":"CRITICAL"}`,
    `00-${ID}0-00f067aa0ba902b7-01`,
    `00-${ID.slice(1)}g-00f067aa0ba902b7-01`,
  ]) {
    t.is(traceOf({ traceparent }), undefined, JSON.stringify(traceparent));
  }
  for (const ctx of ['', `${'0'.repeat(32)}/1`, `${ID}/abc`, `${ID}/1;o=2`, `${ID}"}`, `../${ID}`]) {
    t.is(traceOf({ 'x-cloud-trace-context': ctx }), undefined, JSON.stringify(ctx));
  }
});

test('on GCP the trace field names the project, so Cloud Logging links it', (t) => {
  t.like(traceField({ traceId: ID, spanId: '00f067aa0ba902b7', sampled: true }, 'acme-prod'), {
    'logging.googleapis.com/trace': `projects/acme-prod/traces/${ID}`,
    'logging.googleapis.com/spanId': '00f067aa0ba902b7',
    'logging.googleapis.com/trace_sampled': true,
  });
  t.is(traceField({ traceId: ID }, undefined)['logging.googleapis.com/trace'], ID);
});
