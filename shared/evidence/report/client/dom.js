// report.html client, part 1: building DOM. Every piece of session data (SQL, rows, names) is
// attacker-controlled, so it only ever enters the page as a text node or an attribute value set
// with setAttribute: there is no innerHTML, insertAdjacentHTML or document.write in this client.
'use strict';

/** h('tag.class', {attr: value}, child, …): strings become text nodes. */
function h(spec, attrs, ...children) {
  const [tag, ...classes] = spec.split('.');
  const el = document.createElement(tag || 'div');
  if (classes.length) el.className = classes.join(' ');
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    // Handlers are listeners, never attributes: an `on…` attribute is inline script (and CSP
    // refuses it). Links stay inside the page.
    if (k.startsWith('on')) {
      if (typeof v === 'function') el.addEventListener(k.slice(2), v);
    } else if (k === 'href' && !String(v).startsWith('#')) continue;
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

/** A value from a result row or an event, as the text a reader should see. */
function show(v) {
  if (v === null) return 'NULL';
  if (v === undefined) return '';
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}

function clip(s, n) {
  s = String(s ?? '');
  return s.length > n ? s.slice(0, n - 1) + '…' : s;
}

function who(id) {
  return (id && (id.email || id.subject)) || '';
}

/** A two-column table of label → value; values may be nodes. */
function facts(rows) {
  return h('table.facts', {}, h('tbody', {}, rows.filter((r) => r && r[1] !== undefined && r[1] !== '').map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', {}, v)))));
}

function badge(text, kind) {
  return h('span.badge.' + (kind || 'plain'), {}, text);
}
