// report.html client, part 2: re-checking the embedded events in the browser, offline. The hash
// is SHA-256 over RFC 8785 canonical JSON: JSON.stringify already writes numbers and strings the
// way RFC 8785 asks, so canonical form only needs object keys sorted by UTF-16 code units
// (Array.prototype.sort's default) and undefined members dropped.
'use strict';

function canonical(v) {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return '[' + v.map((x) => (x === undefined ? 'null' : canonical(x))).join(',') + ']';
  const keys = Object.keys(v).filter((k) => v[k] !== undefined).sort();
  return '{' + keys.map((k) => JSON.stringify(k) + ':' + canonical(v[k])).join(',') + '}';
}

async function sha256Hex(text) {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Problems with one embedded session's chain, as short sentences; [] when it holds. */
async function checkChain(s) {
  const problems = [];
  let prev = null;
  for (let i = 0; i < s.events.length; i++) {
    const e = s.events[i];
    if (e.sessionId !== s.f.sessionId) problems.push('event ' + e.seq + ' names another session');
    if (e.seq !== i) problems.push('expected event ' + i + ', found ' + e.seq);
    const hash = await sha256Hex(canonical({ sessionId: e.sessionId, seq: e.seq, type: e.type, at: e.at, data: e.data, prevHash: e.prevHash }));
    if (hash !== e.hash) problems.push('event ' + e.seq + ' does not match its hash');
    if ((prev ? prev.hash : null) !== e.prevHash) problems.push('event ' + e.seq + ' does not link to the one before');
    prev = e;
  }
  if (prev && prev.hash !== s.f.head) problems.push('the last event is not the exported chain head');
  return problems;
}

/** Checks every embedded session with events; calls back as it goes. */
async function checkAll(sessions, onDone) {
  if (!(window.crypto && crypto.subtle)) {
    onDone({ available: false });
    return;
  }
  let ok = 0;
  let broken = 0;
  let skipped = 0;
  for (const s of sessions) {
    if (!s.events) {
      skipped++;
      continue;
    }
    s.browserCheck = await checkChain(s);
    if (s.browserCheck.length) broken++;
    else ok++;
  }
  onDone({ available: true, ok, broken, skipped });
}
