// The context preview: the exact messages the backend would receive for a
// message within a budget, the tokens of each section, why every recalled
// turn and summary is in, and what moved since the previous preview.
import { h, replace, toast, fmtTime } from './dom.js';
import { api, request, enc, q } from './api.js';
import { previewMoves, sectionName } from './diff.js';

const SECTIONS = ['lore_constant_before', 'persona', 'lore_constant', 'lore_before', 'summaries', 'lore', 'recalled', 'recent', 'post_history', 'message'];

export async function previewPanel(panel, page) {
  const bot = () => page.bot;
  const source = h('select', { id: 'preview-conv' });
  const scratch = h('textarea', { id: 'scratch-turns', rows: 6,
    placeholder: 'One turn per line, "Speaker: text".\nuser: Hi, I am Sam.\nassistant: Hello Sam!\nSam: I like castles.' });
  const message = h('textarea', { id: 'preview-message', rows: 2, placeholder: 'The user\'s next message' });
  // The bot's own budget, as a chat with it uses: memory.budget_tokens,
  // else its window less its max output (the server says, with its
  // defaults), until the designer picks another.
  let touched = false;
  const budget = h('input', { id: 'preview-budget', type: 'number', min: '64', step: '64', value: String(botBudget(page.bot)),
    oninput: () => { touched = true; } });
  request('POST', '/v1/bots/tokens', { body: page.bot })
    .then(({ data }) => { if (!touched && data?.budget_tokens > 0) budget.value = String(data.budget_tokens); })
    .catch(() => {});
  const presets = h('div', { class: 'row' }, [512, 1024, 2048, 4096, 8192].map((n) =>
    h('button', { type: 'button', class: 'small', onclick: () => { touched = true; budget.value = n; } }, String(n))));
  const run = h('button', { type: 'button', class: 'primary', id: 'preview-run' }, 'Preview context');
  const err = h('p', { class: 'field-error', role: 'alert', id: 'preview-error' });
  const note = h('p', { class: 'warn small', 'aria-live': 'polite' });
  const out = h('div', { id: 'preview-out' });
  let previous = null;

  const loadConvs = async (select) => {
    const { conversations = [] } = await api.get('/v1/conversations' + q({ bot_id: bot().id, limit: 100 }));
    replace(source, h('option', { value: '' }, conversations.length ? '— pick a conversation —' : '— no conversations yet: paste sample turns —'),
      conversations.map((c) => h('option', { value: c.id, selected: c.id === select },
        `${c.id}${c.user_id ? ' · ' + c.user_id : ''} · ${c.last_seq} turns${c.metadata?.scratch ? ' · scratch' : ''}`)));
  };
  await loadConvs();

  const makeScratch = async () => {
    const turns = parseTurns(scratch.value, bot().name);
    if (!turns.length) { err.textContent = 'Paste at least one "Speaker: text" line.'; scratch.focus(); return; }
    try {
      const conv = await api.post('/v1/conversations', { bot_id: bot().id, metadata: { scratch: true, source: 'ui' } });
      await api.post(`/v1/conversations/${enc(conv.id)}/turns`, { turns });
      await loadConvs(conv.id);
      err.textContent = '';
      toast(`Scratch conversation ${conv.id} with ${turns.length} turns`);
    } catch (e) {
      err.textContent = e.message;
    }
  };

  const preview = async () => {
    err.textContent = '';
    let conv = source.value;
    if (!message.value.trim()) { err.textContent = 'message.content: type the message to answer.'; message.focus(); return; }
    const n = parseInt(budget.value, 10);
    if (!(n > 0)) { err.textContent = 'budget_tokens: a positive number of tokens.'; budget.focus(); return; }
    note.textContent = page.dirty ? `Unsaved edits are not in this preview: it uses saved version ${bot().version}.` : '';
    run.disabled = true;
    try {
      if (!conv) {
        // No conversation picked: an empty scratch conversation.
        const c = await api.post('/v1/conversations', { bot_id: bot().id, metadata: { scratch: true, source: 'ui' } });
        await loadConvs(c.id);
        conv = c.id;
      }
      const { data } = await request('POST', `/v1/conversations/${enc(conv)}/context`,
        { body: { message: { role: 'user', content: message.value }, budget_tokens: n, bot_id: bot().id } });
      const cur = { budget: n, result: data, version: bot().version, conv, at: new Date() };
      replace(out, render(cur, previous && previous.conv === conv ? previous : null));
      previous = cur;
    } catch (e) {
      err.textContent = e.message;
    } finally {
      run.disabled = false;
    }
  };
  run.addEventListener('click', preview);
  message.addEventListener('keydown', (e) => { if ((e.ctrlKey || e.metaKey) && e.key === 'Enter') preview(); });

  replace(panel,
    h('div', { class: 'preview-form card' },
      h('div', { class: 'field' }, h('label', { for: 'preview-conv' }, 'Conversation'), source),
      h('details', {}, h('summary', {}, 'Or paste sample turns into a scratch conversation'),
        h('label', { for: 'scratch-turns' }, 'Sample turns'), scratch,
        h('button', { type: 'button', id: 'scratch-create', onclick: makeScratch }, 'Create scratch conversation')),
      h('div', { class: 'field' }, h('label', { for: 'preview-message' }, 'Message'), message),
      h('div', { class: 'field' }, h('label', { for: 'preview-budget' }, 'Budget (tokens)'), budget, presets),
      h('div', { class: 'row' }, run, h('span', { class: 'muted small' }, 'Ctrl+Enter in the message · previews the saved version of the bot')),
      err, note),
    out);
  page.onSaved = [...(page.onSaved || []), () => { if (previous) toast('Saved: preview again to see what moved'); }];
}

// parseTurns reads "Speaker: text" lines; user/assistant/system are roles,
// the bot's name is the assistant, any other name a user of that name.
export function parseTurns(text, botName) {
  const turns = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const m = /^([^:]{1,64}):\s*(.*)$/.exec(line);
    if (!m) {
      if (turns.length) turns[turns.length - 1].content += '\n' + line;
      else turns.push({ role: 'user', content: line });
      continue;
    }
    const who = m[1].trim(), content = m[2];
    const low = who.toLowerCase();
    if (['user', 'assistant', 'system'].includes(low)) turns.push({ role: low, content });
    else if (who === botName || low === '{{char}}') turns.push({ role: 'assistant', name: nameOK(who), content });
    else turns.push({ role: 'user', name: nameOK(who), content });
  }
  return turns.filter((t) => t.content).map((t) => (t.name ? t : (delete t.name, t)));
}

const nameOK = (s) => s.replace(/[^A-Za-z0-9_-]+/g, '_').slice(0, 64) || undefined;

function render(cur, prev) {
  const r = cur.result.report || {};
  const secs = r.sections || [];
  const used = r.used_tokens ?? secs.reduce((s, x) => s + x.tokens, 0);
  const budget = r.budget_tokens || cur.budget;
  return h('div', {},
    h('h2', {}, 'Tokens by section'),
    h('p', {}, h('strong', {}, `${used}`), ` of ${budget} tokens used (${Math.round((100 * used) / budget)} %) · bot version ${cur.version} · ${cur.at.toLocaleTimeString()}`),
    h('p', { class: 'muted small' }, 'Share of the budget:'), bar(secs, budget, 'section-bar'),
    h('p', { class: 'muted small' }, 'Share of what is used:'), bar(secs, used, 'section-bar-used'),
    h('ul', { class: 'legend' }, secs.map((s) => h('li', {}, h('span', { class: `swatch s-${cls(s.name)}` }),
      `${sectionName(s.name)}: ${s.tokens} tokens`, s.items ? h('span', { class: 'muted' }, ` · ${s.items} item${s.items === 1 ? '' : 's'}`) : null))),
    prev ? moved(prev, cur) : null,
    h('div', { class: 'split' },
      h('section', {}, h('h2', {}, `Messages the backend receives (${(cur.result.messages || []).length})`),
        h('ol', { class: 'messages', id: 'preview-messages' }, (cur.result.messages || []).map((m) =>
          h('li', { class: `msg role-${m.role}` }, h('div', { class: 'meta' }, m.role, m.name ? ` · ${m.name}` : ''), h('pre', {}, m.content))))),
      h('section', {}, why(r))));
}

const cls = (name) => (SECTIONS.includes(name) ? name : 'other');

function bar(secs, budget, id) {
  const total = Math.max(budget, secs.reduce((s, x) => s + x.tokens, 0)) || 1;
  return h('div', { class: 'stack', id, role: 'img',
    'aria-label': secs.map((s) => `${sectionName(s.name)} ${s.tokens} tokens`).join(', ') + ` of ${budget}` },
  secs.filter((s) => s.tokens > 0).map((s) => h('div', { class: `seg s-${cls(s.name)}`, dataset: { section: s.name },
    style: { flexBasis: `${(100 * s.tokens) / total}%` }, title: `${sectionName(s.name)}: ${s.tokens} tokens` },
  h('span', {}, `${sectionName(s.name)} ${s.tokens}`))));
}

function moved(prev, cur) {
  const moves = previewMoves(prev, cur);
  return h('section', { class: 'card moved', id: 'preview-moved' },
    h('h2', {}, 'What moved since the previous preview'),
    prev.version !== cur.version ? h('p', { class: 'muted' }, `bot version ${prev.version} → ${cur.version}`) : null,
    moves.length ? h('ul', {}, moves.map((m) => h('li', { class: `mv-${m.kind}` }, m.text,
      m.diff ? h('details', {}, h('summary', {}, 'lines'), h('div', { class: 'pre' },
        m.diff.filter((d) => d.op !== '=').map((d) => h('div', { class: d.op === '+' ? 'add' : 'del' }, `${d.op} ${d.line}`)))) : null)))
      : h('p', {}, 'Nothing moved: the same messages.'));
}

function why(r) {
  const turns = r.turns || [];
  return h('div', {},
    h('h2', {}, 'Why each turn is in'),
    turns.length ? h('div', { class: 'scroll-x' }, h('table', { class: 'why', id: 'preview-why' },
      h('thead', {}, h('tr', {}, ['Turn', 'Section', 'Score', 'Tokens', 'Reasons'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, turns.map((t) => h('tr', {},
        h('td', {}, `#${t.seq}`), h('td', { class: 'nowrap' }, h('span', { class: `swatch s-${cls(t.section)}` }), sectionName(t.section)),
        h('td', {}, t.score ? t.score.toFixed(3) : ''), h('td', {}, t.tokens),
        h('td', {}, (t.reasons || []).map((x) => h('span', { class: 'chip' }, x))))))))
      : h('p', { class: 'muted' }, 'No earlier turns in this context.'),
    h('h2', {}, 'Lore in'),
    (r.lore || []).length ? h('ul', { id: 'preview-lore' }, r.lore.map((l) =>
      h('li', {}, h('strong', {}, `#${l.id} ${l.name || ''}`), ` · ${l.tokens} tokens · ${sectionName(l.section || '')} · `,
        l.constant ? 'constant' : (l.reasons || []).join('; '))))
      : h('p', { class: 'muted' }, 'No lore entry (none triggered, or no room).'),
    h('h2', {}, 'Summaries in'),
    (r.summaries || []).length ? h('ul', { id: 'preview-summaries' }, r.summaries.map((s) =>
      h('li', {}, `level ${s.level} · covers turns ${s.from_seq}–${s.to_seq} · ${s.tokens} tokens`, s.reason ? ` · ${s.reason}` : '')))
      : h('p', { class: 'muted' }, 'No summaries (none yet, or no room).'),
    dropped(r.dropped || []));
}

// dropped lists what was left out and why — turns, lore entries and
// summaries alike (report.dropped items carry section, tokens, reasons and,
// by kind, seq, entry or from_seq/to_seq; any of them may be missing).
function dropped(items) {
  if (!items.length) return null;
  const what = (d) => {
    if (d.section === 'lore' || d.entry !== undefined) return `lore entry ${d.entry ?? ''}`.trim();
    if (d.section === 'summaries' || d.from_seq) return `summary of turns ${d.from_seq ?? '?'}–${d.to_seq ?? '?'}`;
    return d.seq ? `turn #${d.seq}` : sectionName(d.section || 'item');
  };
  return h('div', {}, h('h2', {}, `Left out (${items.length})`),
    h('ul', { id: 'preview-dropped' }, items.map((d) => h('li', {}, h('strong', {}, what(d)),
      d.tokens !== undefined ? ` (${d.tokens} tokens)` : '', (d.reasons || []).length ? `: ${d.reasons.join('; ')}` : ''))));
}

// botBudget is a chat's budget for bot with the built-in defaults (an
// 8,192-token window, 512 output tokens), before the server says.
function botBudget(bot) {
  if (bot.memory?.budget_tokens > 0) return bot.memory.budget_tokens;
  const window = bot.model?.context_window || 8192;
  let out = bot.model?.max_output_tokens || 512;
  if (out >= window) out = Math.floor(window / 2);
  return window - out;
}
