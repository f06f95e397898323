// A bot's conversations: turns paged with their seq and date, and the
// summaries timeline (which turns each summary covers).
import { h, replace, fmtTime } from './dom.js';
import { api, enc, q } from './api.js';

const PAGE = 50;

export async function conversationsPanel(panel, page) {
  return conversationList(panel, page.bot.id);
}

// conversationsPage lists every conversation of the tenant, those made
// without a bot included (#/conversations).
export async function conversationsPage(main) {
  return conversationList(main, '');
}

// conversationList lists the conversations of bot botId ('': all) and
// opens one beside the list.
async function conversationList(panel, botId) {
  const list = h('ul', { class: 'conv-list', id: 'conv-list' });
  const detail = h('div', { id: 'conv-detail' });
  let after = '';
  const more = h('button', { type: 'button', hidden: true, onclick: () => load() }, 'More conversations');
  const load = async () => {
    const res = await api.get('/v1/conversations' + q({ bot_id: botId, after, limit: PAGE }));
    for (const c of res.conversations || []) {
      const bot = botId ? '' : c.bot_id ? `bot ${c.bot_id} · ` : 'no bot · ';
      list.append(h('li', {}, h('button', { type: 'button', class: 'link', onclick: () => openConv(detail, c) },
        h('strong', {}, c.id)), h('span', { class: 'muted small' },
        ` ${bot}${c.user_id ? c.user_id + ' · ' : ''}${c.last_seq} turns · ${fmtTime(c.created_at)}${c.metadata?.scratch ? ' · scratch' : ''}`)));
    }
    if (!list.children.length) list.append(h('li', { class: 'muted' }, botId ? 'No conversations with this bot yet.' : 'No conversations yet.'));
    after = res.next || '';
    more.hidden = !after;
  };
  replace(panel, h('div', { class: 'split narrow-left' },
    h('section', { class: 'card' }, h('h2', {}, botId ? 'Conversations' : 'All conversations'), list, more), detail));
  await load();
}

async function openConv(detail, c) {
  const turns = h('div', {});
  const timeline = h('div', {});
  replace(detail, h('section', { class: 'card' },
    h('h2', {}, `Conversation ${c.id}`),
    h('p', { class: 'muted' }, `${c.last_seq} turns · created ${fmtTime(c.created_at)}${c.user_id ? ' · user ' + c.user_id : ''}`),
    h('h3', {}, 'Summaries'), timeline, h('h3', {}, 'Turns'), turns));
  showSummaries(timeline, c);
  await showTurns(turns, c, 0, []);
  detail.querySelector('h2').setAttribute('tabindex', '-1');
  detail.querySelector('h2').focus();
}

// showTurns shows one page of turns after seq `after`; back holds the
// cursors of earlier pages.
async function showTurns(box, c, after, back) {
  const res = await api.get(`/v1/conversations/${enc(c.id)}/turns` + q({ after: after || '', limit: PAGE }));
  const ts = res.turns || [];
  replace(box,
    ts.length ? h('div', { class: 'scroll-x' }, h('table', { class: 'turns' },
      h('thead', {}, h('tr', {}, ['Seq', 'Date', 'Speaker', 'Text', 'Tokens'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, ts.map((t) => h('tr', {},
        h('td', {}, `#${t.seq}`), h('td', { class: 'nowrap' }, fmtTime(t.created_at)),
        h('td', {}, t.name || t.role), h('td', { class: 'pre' }, t.content), h('td', {}, t.tokens))))))
      : h('p', { class: 'muted' }, 'No turns.'),
    h('div', { class: 'row' },
      h('button', { type: 'button', disabled: !back.length, onclick: () => showTurns(box, c, back[back.length - 1], back.slice(0, -1)) }, '← Earlier'),
      h('span', { class: 'muted small' }, ts.length ? `turns ${ts[0].seq}–${ts[ts.length - 1].seq} of ${c.last_seq}` : ''),
      h('button', { type: 'button', disabled: res.next == null, onclick: () => showTurns(box, c, res.next, [...back, after]) }, 'Later →')));
}

// fitObserver hides a bar's range where it does not fit whole ("102–1"):
// the bar keeps it as its title and label, and the list below has it.
const fitObserver = new ResizeObserver((entries) => {
  for (const { target } of entries) {
    for (const t of target.querySelectorAll('.tl-text')) t.hidden = false;
    for (const t of target.querySelectorAll('.tl-text')) t.hidden = t.parentElement.scrollWidth > t.parentElement.clientWidth + 1;
  }
});

// showSummaries draws each level as a row of bars over the turn range.
async function showSummaries(box, c) {
  let sums;
  try {
    ({ summaries: sums = [] } = await api.get(`/v1/conversations/${enc(c.id)}/summaries`));
  } catch (e) {
    replace(box, h('p', { class: 'muted' }, `No summaries: ${e.message}`));
    return;
  }
  if (!sums.length) { replace(box, h('p', { class: 'muted' }, 'No summaries yet: they appear once turns leave the recent window.')); return; }
  fitObserver.observe(box);
  const last = Math.max(c.last_seq, ...sums.map((s) => s.to_seq)) || 1;
  const levels = [...new Set(sums.map((s) => s.level))].sort((a, b) => b - a);
  replace(box,
    h('div', { class: 'timeline', role: 'list', 'aria-label': `Summaries over turns 1–${last}` }, levels.map((lv) =>
      h('div', { class: 'tl-row' }, h('span', { class: 'tl-label' }, `L${lv}`),
        h('div', { class: 'tl-track' }, sums.filter((s) => s.level === lv).map((s) =>
          h('span', { class: 'tl-bar', role: 'listitem', title: `level ${s.level}: turns ${s.from_seq}–${s.to_seq}`,
            'aria-label': `level ${s.level}: turns ${s.from_seq}–${s.to_seq}`,
            style: { left: `${(100 * (s.from_seq - 1)) / last}%`, width: `${(100 * (s.to_seq - s.from_seq + 1)) / last}%` } },
          h('span', { class: 'tl-text' }, `${s.from_seq}–${s.to_seq}`)))))),
      h('div', { class: 'tl-row tl-axis', 'aria-hidden': 'true' }, h('span', { class: 'tl-label' }),
        h('div', { class: 'row between grow muted small' }, h('span', {}, 'turn 1'), h('span', {}, `turn ${last}`)))),
    h('ul', { class: 'summaries' }, sums.map((s) => h('li', {},
      h('details', {}, h('summary', {}, `L${s.level} · turns ${s.from_seq}–${s.to_seq} · ${s.tokens} tokens · ${s.producer || ''} · ${fmtTime(s.created_at)}`),
        h('p', { class: 'pre' }, s.content))))));
}
