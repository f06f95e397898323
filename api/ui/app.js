// The web page for bot designers: routing, sign-in and the bot list.
import { h, replace, toast, debounce, fmtTime } from './dom.js';
import { api, auth, request, APIError, q } from './api.js';
import { botPage } from './bot.js';
import { importCard, avatarImg } from './cards.js';
import { conversationsPage } from './convs.js';

const main = document.getElementById('main');

// route renders the page the location hash names:
// #/ (bots), #/new, #/bot/{id}/{tab}, #/conversations (all, those
// without a bot too), #/signin.
async function route() {
  const parts = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  updateWho();
  try {
    if (!auth.open && !auth.key()) return signIn();
    if (parts[0] === 'signin') return signIn();
    if (parts[0] === 'new') return botPage(main, null, 'persona');
    if (parts[0] === 'bot' && parts[1]) return await botPage(main, parts[1], parts[2] || 'persona');
    if (parts[0] === 'conversations') { crumbs({ href: '#/', label: 'Bots' }, { label: 'All conversations' }); return await conversationsPage(main); }
    return await botList();
  } catch (e) {
    fail(e);
  }
}

// fail shows an error; a refused key leads back to sign-in.
export function fail(e) {
  if (e instanceof APIError && e.status === 401) {
    auth.set('');
    return signIn('The server refused the key: ' + e.message);
  }
  console.error(e);
  replace(main, h('div', { class: 'card error', role: 'alert' }, h('h1', {}, 'Something went wrong'), h('p', {}, e.message)));
}

export function crumbs(...items) {
  replace(document.getElementById('crumbs'), items.map((it, i) =>
    [i ? h('span', { class: 'sep', 'aria-hidden': 'true' }, '›') : null,
     it.href ? h('a', { href: it.href }, it.label) : h('span', { 'aria-current': 'page' }, it.label)]));
}

function updateWho() {
  const who = document.getElementById('who');
  const out = document.getElementById('signout');
  who.textContent = auth.open ? 'no API keys on this server' : auth.key() ? 'signed in' : '';
  out.hidden = auth.open || !auth.key();
}

// signIn asks for an API key and checks it with GET /v1/bots.
function signIn(message = '') {
  crumbs({ label: 'Sign in' });
  updateWho();
  const input = h('input', { id: 'apikey', type: 'password', autocomplete: 'off', required: true, 'aria-describedby': 'apikey-err' });
  const err = h('p', { id: 'apikey-err', class: 'field-error', role: 'alert' }, message);
  const form = h('form', { class: 'card narrow', onsubmit: async (ev) => {
    ev.preventDefault();
    auth.set(input.value.trim());
    try {
      await request('GET', '/v1/bots?limit=1');
      updateWho();
      toast('Signed in');
      location.hash = '#/';
      route();
    } catch (e) {
      auth.set('');
      err.textContent = e.status === 401 ? 'This key is not accepted: ' + e.message : e.message;
      input.setAttribute('aria-invalid', 'true');
      input.focus();
    }
  } },
  h('h1', {}, 'Sign in'),
  h('p', { class: 'muted' }, 'Paste an API key. It stays in this tab (session storage) and is sent as a bearer token; you see the bots and conversations of its tenant.'),
  h('label', { for: 'apikey' }, 'API key'), input, err,
  h('button', { type: 'submit', class: 'primary' }, 'Sign in'));
  replace(main, form);
  input.focus();
}

// botList is the start page: search, create, import.
async function botList() {
  crumbs({ label: 'Bots' });
  updateWho();
  const search = h('input', { type: 'search', id: 'bot-search', placeholder: 'Search name, tags, description', 'aria-label': 'Search bots' });
  const list = h('ul', { class: 'bot-list', id: 'bot-list' });
  const more = h('button', { type: 'button', hidden: true }, 'More');
  let after = '';
  const load = async (reset) => {
    if (reset) { after = ''; list.replaceChildren(); }
    const res = await api.get('/v1/bots' + q({ q: search.value.trim(), after, limit: 50 }));
    for (const b of res.bots || []) list.append(botItem(b));
    if (!list.children.length) list.append(h('li', { class: 'muted' }, search.value ? 'No bot matches.' : 'No bots yet: create one or import a card.'));
    after = res.next ?? res.next_after ?? '';
    more.hidden = !after;
  };
  search.addEventListener('input', debounce(() => load(true).catch(fail), 200));
  more.addEventListener('click', () => load(false).catch(fail));
  const drop = importCard(async (bot) => { toast(`Imported ${bot.name}`); location.hash = `#/bot/${encodeURIComponent(bot.id)}`; });
  replace(main,
    h('div', { class: 'row between' },
      h('h1', {}, 'Bots'),
      h('span', { class: 'row' },
        h('a', { class: 'button', href: '#/conversations', id: 'all-conversations' }, 'All conversations'),
        h('a', { class: 'button primary', href: '#/new', id: 'new-bot' }, 'New bot'))),
    h('div', { class: 'grid-list' },
      h('section', { class: 'card' }, search, list, more),
      h('section', { class: 'card' }, h('h2', {}, 'Import a character card'), drop)));
  await load(true);
  search.focus();
}

function botItem(b) {
  return h('li', { class: 'with-avatar' }, avatarImg(b),
    h('a', { href: `#/bot/${encodeURIComponent(b.id)}` },
      h('strong', {}, b.name), ' ', h('code', { class: 'muted' }, b.id)),
    h('span', { class: 'muted small' }, ` v${b.version} · ${fmtTime(b.updated_at)}`),
    b.description ? h('p', { class: 'small clamp' }, b.description) : null,
    (b.tags || []).length ? h('div', { class: 'chips' }, b.tags.map((t) => h('span', { class: 'chip' }, t))) : null);
}

// start finds out whether the server wants a key: GET /v1/bots without
// one succeeds only when no keys are configured.
async function start() {
  document.getElementById('signout').addEventListener('click', () => {
    auth.set('');
    toast('Signed out');
    location.hash = '#/signin';
  });
  try {
    const r = await fetch('/v1/bots?limit=1');
    auth.open = r.ok;
  } catch { auth.open = false; }
  window.addEventListener('hashchange', route);
  await route();
}

start();
