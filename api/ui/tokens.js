// Token counts in the editor: what the persona, each of its fields and
// each lore entry cost, against the shares of the bot's budget. The
// server counts (POST /v1/bots/tokens) with its own tokenizer.
import { h, replace } from './dom.js';
import { request } from './api.js';

const fmt = (n) => Number(n).toLocaleString('en');
const tokens = (n) => `${fmt(n)} token${n === 1 ? '' : 's'}`;

// tokenCounter returns count(): debounced, it sends the draft and writes
// the counts into the page's persona and lore panels.
export function tokenCounter(page) {
  let timer = 0;
  let seq = 0;
  const run = async () => {
    const mine = ++seq;
    const body = JSON.parse(JSON.stringify(page.draft));
    if (!body.name) body.name = '{{char}}';
    let c;
    try {
      ({ data: c } = await request('POST', '/v1/bots/tokens', { body }));
    } catch {
      return; // counts are a help: a draft the server cannot read shows none
    }
    if (mine !== seq) return; // a newer draft is being counted
    draw(page, c);
  };
  return () => { clearTimeout(timer); timer = setTimeout(run, 250); };
}

function tag(wrap, text, over) {
  if (!wrap) return;
  let t = wrap.querySelector(':scope > .tok, :scope > label > .tok, :scope .label > .tok');
  if (!t) {
    t = h('span', { class: 'tok muted small' });
    (wrap.querySelector('label, .label') || wrap).append(' ', t);
  }
  t.textContent = text;
  t.classList.toggle('over', !!over);
}

function draw(page, c) {
  const pp = page.panels.persona;
  const p = c.persona;
  for (const w of pp.querySelectorAll('[data-field] .tok')) w.textContent = '';
  for (const [k, n] of Object.entries(p.fields || {})) tag(pp.querySelector(`[data-field="${k}"]`), tokens(n));
  const over = p.tokens > p.max_tokens;
  let sum = pp.querySelector('#persona-tokens');
  if (!sum) {
    sum = h('p', { id: 'persona-tokens', class: 'small', 'aria-live': 'polite' });
    pp.querySelector('form')?.prepend(sum);
  }
  sum.classList.toggle('warn', over);
  replace(sum, h('strong', {}, `Persona: ${tokens(p.tokens)}`),
    ` of its share ${fmt(p.max_tokens)} (persona_share ${p.share}${p.share_is_default ? ', the default' : ''} × budget ${fmt(c.budget_tokens)})`,
    over ? ` — too big: every chat is refused; shorten it, raise memory.persona_share, or give a budget of at least ${fmt(p.min_budget_tokens)}.` : '.');

  const lp = page.panels.lore;
  const l = c.lore;
  for (const e of l.entries || []) {
    const card = lp.querySelector(`.entry[data-entry-id="${e.id}"]`);
    if (!card) continue;
    let t = card.querySelector('.tok');
    if (!t) { t = h('span', { class: 'tok muted small' }); card.querySelector('.row span')?.append(' ', t); }
    t.textContent = `· ${tokens(e.tokens)}`;
    t.classList.toggle('over', e.tokens > l.max_tokens);
  }
  let ls = lp.querySelector('#lore-tokens');
  if (!ls) {
    ls = h('p', { id: 'lore-tokens', class: 'small', 'aria-live': 'polite' });
    lp.querySelector('#lore-entries')?.before(ls);
  }
  const cOver = l.constant_tokens > l.max_tokens;
  ls.classList.toggle('warn', cOver);
  replace(ls, h('strong', {}, `Lore: ${tokens(l.constant_tokens)} always in`),
    `; room for lore ${fmt(l.max_tokens)} tokens (lore_share ${l.share}${l.share_is_default ? ', the default' : ''} × budget ${fmt(c.budget_tokens)}, or the lorebook's token budget when smaller).`,
    cOver ? ' Constant entries beyond it are dropped, lowest priority first.' : '');
}
