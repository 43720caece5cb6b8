// drover's web page: the router, the token form and the start. No framework and nothing from outside
// the server that serves it. Views: runs.js (the list), group.js (a sweep), run.js (a run: failure
// summary, DAG, timeline), job.js (a job: live log, commands, attempts, why), queue.js.
// Shared parts (HTTP, the live WebSocket, the health banner) live in lib.js.
import { $, h, auth, state, connect, resetLive, pollHealth, paintHealth } from './lib.js';
import { runsView } from './runs.js';
import { groupView } from './group.js';
import { runView } from './run.js';
import { jobView } from './job.js';
import { queueView } from './queue.js';

function askToken(msg = '') {
  if (state.view?.tokenForm) { if (msg) state.view.tokenForm.querySelector('.error')?.replaceChildren(msg); return; } // already asking
  state.view?.dispose?.();
  const input = h('input', { type: 'password', id: 'token', autocomplete: 'off', placeholder: 'drv_…', required: true });
  const form = h('form', { class: 'card token', onsubmit: async (ev) => {
    ev.preventDefault();
    auth.token = input.value.trim();
    localStorage.setItem('drover.token', auth.token);
    resetLive();
    state.view = null; // no longer asking
    connect(); await pollHealth(); route();
  } },
  h('h1', {}, 'API token'),
  h('p', {}, 'Paste a drover token (the admin token is in ', h('code', {}, '<data-dir>/admin.token'), '; ', h('code', {}, 'drover token create --role reader'), ' makes a read-only one). It stays in this browser and is never put in a URL.'),
  h('p', { class: 'error' }, msg), input, ' ', h('button', { type: 'submit' }, 'Save'));
  state.view = { el: form, tokenForm: form };
  $('main').replaceChildren(form);
  input.focus();
}
state.askToken = askToken;

async function route() {
  if (!auth.token) return askToken();
  const [path, qs] = (location.hash.slice(1) || '/runs').split('?');
  const q = Object.fromEntries(new URLSearchParams(qs || ''));
  const [, kind, id] = path.split('/');
  const make = kind === 'run' && id ? () => runView(id)
    : kind === 'job' && id ? () => jobView(id)
      : kind === 'group' && id ? () => groupView(decodeURIComponent(id))
        : kind === 'queue' ? queueView
          : q.group ? () => groupView(q.group) // the old #/runs?group= address
            : () => runsView(q);
  state.view?.dispose?.(); state.view = null;
  for (const a of document.querySelectorAll('header nav a')) a.classList.toggle('here', a.getAttribute('href') === `#/${kind === 'queue' ? 'queue' : 'runs'}`);
  const at = location.hash;
  try {
    const v = await make();
    if (location.hash !== at) { v.dispose?.(); return; } // the user moved on meanwhile
    state.view = v;
    $('main').replaceChildren(v.el);
    v.mounted?.();
  } catch (e) {
    if (e.status !== 401) $('main').replaceChildren(h('p', { class: 'error' }, `Could not load this page: ${e.message}`), h('button', { type: 'button', onclick: route }, 'Retry'));
  }
}

window.addEventListener('hashchange', route);
$('token-btn').addEventListener('click', () => askToken());
setInterval(pollHealth, 2000);
setInterval(paintHealth, 1000);
pollHealth();
connect();
route();
