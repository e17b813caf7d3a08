// report.html client, part 4: read the embedded data (JSON in <script type="application/json">,
// parsed, never evaluated) and route between views on the URL fragment.
'use strict';

const state = {
  meta: JSON.parse(document.getElementById('gh-meta').textContent),
  sessions: JSON.parse(document.getElementById('gh-sessions').textContent).reverse(), // newest first
  browserCheck: null,
};

function route() {
  const main = clear(document.getElementById('app'));
  const hash = location.hash.slice(1);
  const current = hash === '' || hash.startsWith('session') ? 'sessions' : hash;
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('active', a.getAttribute('href') === '#' + current);
  if (hash.startsWith('session=')) main.appendChild(replayView(state, decoded(hash.slice('session='.length))));
  else if (hash === 'verification') main.appendChild(verificationView(state));
  else if (hash === 'soc2') main.appendChild(soc2View(state));
  else main.appendChild(sessionsView(state));
  window.scrollTo(0, 0);
}

/** A fragment someone typed may be malformed (`%E0`): show "not found", do not stop the page. */
function decoded(s) {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

window.addEventListener('hashchange', route);
route();
checkAll(state.sessions, (result) => {
  state.browserCheck = result;
  document.body.setAttribute('data-browser-check', result.available ? (result.broken ? 'broken' : 'ok') : 'unavailable');
  const hash = location.hash.slice(1);
  if (hash === 'verification' || hash.startsWith('session=')) route();
});
