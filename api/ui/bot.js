// One bot: the persona form with its {{char}}/{{user}} preview, the
// lorebook, versions, context preview, conversations and card export.
import { h, replace, toast } from './dom.js';
import { request, APIError, enc } from './api.js';
import { field, showError, parsePath } from './form.js';
import { lorePanel } from './lore.js';
import { versionsPanel } from './versions.js';
import { previewPanel } from './preview.js';
import { conversationsPanel } from './convs.js';
import { exportButtons, avatarImg } from './cards.js';
import { tokenCounter } from './tokens.js';
import { crumbs, fail } from './app.js';

const TABS = [
  ['persona', 'Persona'], ['lore', 'Lorebook'], ['preview', 'Context preview'],
  ['versions', 'Versions'], ['conversations', 'Conversations'], ['card', 'Card'],
];

let current = null; // the open bot page, kept while only the tab changes

const clone = (o) => JSON.parse(JSON.stringify(o));

const blank = () => ({ name: '', model: {}, memory: {} });

// Unsaved edits: the browser asks before the tab is closed or reloaded.
window.addEventListener('beforeunload', (e) => { if (current?.dirty) e.preventDefault(); });

// botPage renders bot id (null: a new bot) on tab.
export async function botPage(main, id, tab) {
  // The open page, or unsaved edits left for another page of this tab,
  // come back as they were.
  if (current && current.id === id && (main.contains(current.root) || current.dirty)) {
    if (!main.contains(current.root)) current.reattach();
    return current.show(tab);
  }
  let bot = null, etag = '';
  if (id) ({ data: bot, etag } = await request('GET', `/v1/bots/${enc(id)}`));
  current = new Page(main, bot, etag);
  current.show(id ? tab : 'persona');
}

class Page {
  constructor(main, bot, etag) {
    this.main = main;
    this.bot = bot; // the saved latest version (null: not created yet)
    this.etag = etag;
    this.id = bot ? bot.id : null;
    this.draft = bot ? clone(bot) : blank();
    this.dirty = false;
    this.panels = {};
    this.countTokens = tokenCounter(this);
    this.render();
  }

  render() {
    const b = this.bot;
    crumbs({ href: '#/', label: 'Bots' }, { label: b ? b.name : 'New bot' });
    this.status = h('span', { class: 'muted', id: 'save-status', 'aria-live': 'polite' }, b ? `version ${b.version}` : 'not saved yet');
    this.alert = h('div', { id: 'save-alert', role: 'alert' });
    this.saveBtn = h('button', { type: 'button', class: 'primary', id: 'save', onclick: () => this.save() }, b ? 'Save new version' : 'Create bot');
    this.tablist = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Bot sections', onkeydown: (e) => this.tabKeys(e) },
      TABS.map(([k, label]) => h('button', { type: 'button', role: 'tab', id: `tab-${k}`, 'aria-controls': `panel-${k}`,
        disabled: !b && k !== 'persona' && k !== 'lore', onclick: () => this.go(k) }, label)));
    this.body = h('div', {});
    this.root = h('div', { class: 'bot-page' },
      h('div', { class: 'savebar' },
        h('h1', {}, b ? b.name : 'New bot'), b ? h('code', { class: 'muted' }, b.id) : null, this.status,
        h('span', { class: 'grow' }), this.saveBtn),
      this.alert, this.tablist, this.body);
    for (const [k] of TABS) {
      this.panels[k] = h('section', { id: `panel-${k}`, role: 'tabpanel', 'aria-labelledby': `tab-${k}`, hidden: true, tabindex: '-1' });
      this.body.append(this.panels[k]);
    }
    this.loaded = {};
    this.renderForms();
    replace(this.main, this.root);
    this.root.addEventListener('keydown', (e) => {
      if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 's') {
        e.preventDefault();
        // What is still being typed (a key of a chips field) goes in on
        // blur, as when the Save button takes the focus.
        const el = document.activeElement;
        if (el && el !== document.body && this.root.contains(el)) { el.blur(); el.focus(); }
        this.save();
      }
    });
  }

  reattach() {
    crumbs({ href: '#/', label: 'Bots' }, { label: this.bot ? this.bot.name : 'New bot' });
    replace(this.main, this.root);
  }

  // renderForms rebuilds the editable panels from the draft.
  renderForms() {
    replace(this.panels.persona, personaForm(this));
    replace(this.panels.lore, lorePanel(this));
    this.countTokens();
  }

  go(tab) {
    const id = this.id;
    if (!id) return this.show(tab);
    const want = `#/bot/${enc(id)}/${tab}`;
    if (location.hash !== want) location.hash = want; else this.show(tab);
  }

  show(tab) {
    if (!this.panels[tab]) tab = 'persona';
    for (const [k] of TABS) {
      this.panels[k].hidden = k !== tab;
      const t = this.root.querySelector(`#tab-${k}`);
      t.setAttribute('aria-selected', String(k === tab));
      t.tabIndex = k === tab ? 0 : -1;
    }
    this.tab = tab;
    if (!this.loaded[tab] && this.bot) {
      this.loaded[tab] = true;
      const p = this.panels[tab];
      const load = {
        versions: () => versionsPanel(p, this),
        preview: () => previewPanel(p, this),
        conversations: () => conversationsPanel(p, this),
        card: () => replace(p, avatarImg(this.bot, 'card-avatar'), h('h2', {}, 'Export the card'),
          h('p', { class: 'muted' }, 'Character Card V2 or V3 JSON, or a PNG with the card in its text chunk (chara / ccv3), for SillyTavern and other tools.'),
          exportButtons(this.bot),
          h('h2', {}, 'Delete'),
          h('p', { class: 'muted' }, 'Deletes the bot and all its versions. Its conversations stay.'),
          h('button', { type: 'button', class: 'danger', id: 'delete-bot', onclick: () => this.remove() }, `Delete ${this.bot.name}`)),
      }[tab];
      if (load) Promise.resolve(load()).catch(fail);
    }
  }

  tabKeys(e) {
    const keys = TABS.map(([k]) => k).filter((k) => !this.root.querySelector(`#tab-${k}`).disabled);
    let i = keys.indexOf(this.tab);
    if (e.key === 'ArrowRight') i = (i + 1) % keys.length;
    else if (e.key === 'ArrowLeft') i = (i - 1 + keys.length) % keys.length;
    else if (e.key === 'Home') i = 0;
    else if (e.key === 'End') i = keys.length - 1;
    else return;
    e.preventDefault();
    this.go(keys[i]);
    this.root.querySelector(`#tab-${keys[i]}`).focus();
  }

  changed() {
    this.dirty = true;
    this.status.textContent = this.bot ? `version ${this.bot.version} · unsaved changes` : 'not saved yet';
    this.refreshPreview?.();
    this.countTokens();
  }

  clearErrors() {
    this.alert.replaceChildren();
    for (const w of this.root.querySelectorAll('.invalid')) showError(w, '');
  }

  // save creates the bot or PUTs a new version with If-Match.
  async save() {
    // One save at a time: Ctrl+S is not stopped by the disabled button, and
    // a second PUT with the same ETag would fail as a conflict.
    if (this.saving) return;
    this.saving = true;
    this.clearErrors();
    this.saveBtn.disabled = true;
    try {
      const body = clone(this.draft);
      for (const k of ['version', 'author', 'created_at', 'updated_at', 'avatar']) delete body[k]; // the server keeps the picture
      const res = this.bot
        ? await request('PUT', `/v1/bots/${enc(this.bot.id)}`, { body, headers: { 'If-Match': this.etag } })
        : await request('POST', '/v1/bots', { body });
      this.saved(res.data, res.etag);
      toast(`Saved version ${res.data.version}`);
    } catch (e) {
      this.saveFailed(e);
    } finally {
      this.saving = false;
      this.saveBtn.disabled = false;
    }
  }

  saved(bot, etag) {
    const created = !this.bot;
    this.bot = bot;
    this.etag = etag;
    this.id = bot.id;
    this.draft = clone(bot);
    this.dirty = false;
    if (created) {
      this.render();
      location.hash = `#/bot/${enc(bot.id)}/persona`;
      this.show('persona');
      return;
    }
    this.root.querySelector('h1').textContent = bot.name;
    crumbs({ href: '#/', label: 'Bots' }, { label: bot.name });
    this.status.textContent = `version ${bot.version}`;
    this.renderForms();
    this.loaded.versions = this.loaded.card = false; // reloaded when shown
    this.show(this.tab);
    this.onSaved?.forEach((f) => f());
  }

  saveFailed(e) {
    if (!(e instanceof APIError)) throw e;
    if (e.status === 412) return this.conflict();
    if (e.status === 401) return fail(e);
    const msg = e.message.replace(/^[\w.[\]]+:\s/, '');
    const wrap = e.field && this.fieldWrap(e.field);
    this.alert.replaceChildren(h('div', { class: 'card error' },
      h('strong', {}, 'Not saved. '), e.field ? `${e.field}: ${msg}` : e.message,
      wrap ? null : h('span', {}, '')));
    if (wrap) {
      const panel = wrap.closest('[role=tabpanel]');
      if (panel && panel.hidden) this.show(panel.id.replace('panel-', ''));
      showError(wrap, msg);
      wrap.scrollIntoView({ block: 'center' });
      wrap.querySelector('input,textarea,select')?.focus();
    }
  }

  // fieldWrap finds the control of an API field path, or its closest parent.
  fieldWrap(path) {
    let ks = parsePath(path);
    while (ks.length) {
      const p = ks.reduce((s, k) => (typeof k === 'number' ? `${s}[${k}]` : s ? `${s}.${k}` : k), '');
      const w = this.root.querySelector(`[data-field="${CSS.escape(p)}"]`);
      if (w) return w;
      ks = ks.slice(0, -1);
    }
    return null;
  }

  async remove() {
    if (!window.confirm(`Delete ${this.bot.name} and all its versions?`)) return;
    try {
      await request('DELETE', `/v1/bots/${enc(this.bot.id)}`);
      current = null;
      toast(`Deleted ${this.bot.name}`);
      location.hash = '#/';
    } catch (e) {
      toast(`Delete failed: ${e.message}`);
    }
  }

  // conflict explains a lost update (412) and offers the two ways out.
  async conflict() {
    let latest = null, etag = '';
    try { ({ data: latest, etag } = await request('GET', `/v1/bots/${enc(this.bot.id)}`)); } catch { /* shown below */ }
    const who = latest ? `${latest.author || 'someone'} saved version ${latest.version} at ${new Date(latest.updated_at).toLocaleString()}` : 'someone else saved a newer version';
    this.alert.replaceChildren(h('div', { class: 'card warn', id: 'conflict' },
      h('strong', {}, 'Not saved: this bot changed since you opened it. '),
      `You edited version ${this.bot.version}; ${who}. Saving now would overwrite their changes, so nothing was saved. `,
      h('div', { class: 'row' },
        h('button', { type: 'button', onclick: () => { if (latest) { this.saved(latest, etag); this.clearErrors(); toast(`Loaded version ${latest.version}; your edits were discarded`); } } }, `Load version ${latest ? latest.version : 'latest'} (discard my edits)`),
        h('button', { type: 'button', onclick: () => { if (latest) { this.bot = latest; this.etag = etag; this.save(); } } }, `Save mine on top of version ${latest ? latest.version : 'latest'}`),
        h('a', { href: `#/bot/${enc(this.bot.id)}/versions` }, 'Compare in Versions'))));
  }
}

const TEXTS = [
  ['description', 'Description', 4], ['personality', 'Personality', 3], ['scenario', 'Scenario', 3],
  ['first_message', 'First message', 3], ['example_dialogues', 'Example dialogues', 5],
  ['system_prompt', 'System prompt', 4], ['post_history_instructions', 'Post-history instructions', 2],
];

// personaForm: every persona field, and the resolved preview beside it.
function personaForm(page) {
  const d = page.draft;
  const onChange = () => page.changed();
  const f = (path, label, kind, opts) => field(d, path, label, kind, opts, onChange);
  const userName = h('input', { id: 'preview-user', type: 'text', value: 'User', oninput: () => refresh() });
  const out = h('div', { class: 'resolved', id: 'resolved' });
  const refresh = () => {
    replace(out, [['name', 'Name'], ...TEXTS].map(([k, label]) => {
      const v = k === 'name' ? d.name : d[k];
      if (!v) return null;
      return h('div', {}, h('h4', {}, label), h('p', { class: 'pre' }, resolve(v, d.name || '{{char}}', userName.value || 'User')));
    }));
    if (!out.children.length) out.append(h('p', { class: 'muted' }, 'Fill in the persona to see it here.'));
  };
  page.refreshPreview = refresh;
  refresh();
  const greetings = h('div', { class: 'field wide', dataset: { field: 'alternate_greetings' } });
  const drawGreetings = () => {
    const list = d.alternate_greetings || [];
    replace(greetings, h('span', { class: 'label' }, 'Alternate greetings'),
      list.map((g, i) => h('div', { class: 'row', dataset: { field: `alternate_greetings[${i}]` } },
        h('textarea', { rows: 2, 'aria-label': `Alternate greeting ${i + 1}`, value: g, oninput: (e) => { list[i] = e.target.value; onChange(); } }),
        h('button', { type: 'button', 'aria-label': `Remove greeting ${i + 1}`, onclick: () => { list.splice(i, 1); if (!list.length) delete d.alternate_greetings; drawGreetings(); onChange(); } }, 'Remove'))),
      h('button', { type: 'button', onclick: () => { (d.alternate_greetings ||= []).push(''); drawGreetings(); onChange(); } }, 'Add greeting'),
      h('p', { class: 'field-error', role: 'alert' }));
  };
  drawGreetings();
  const form = h('form', { class: 'persona', onsubmit: (e) => { e.preventDefault(); page.save(); } },
    h('fieldset', {}, h('legend', {}, 'Persona'),
      f('name', 'Name', 'text', { help: 'required, {{char}} in texts' }),
      page.bot ? null : f('id', 'Id', 'text', { placeholder: 'generated when empty', help: 'letters, digits, _ and -' }),
      TEXTS.map(([k, label, rows]) => f(k, label, 'textarea', { rows, wide: true })),
      greetings,
      f('tags', 'Tags', 'chips', { wide: true })),
    h('fieldset', {}, h('legend', {}, 'Model'),
      f('model.backend', 'Backend URL', 'text', { placeholder: 'server default' }),
      f('model.model', 'Model name', 'text', { placeholder: 'server default' }),
      f('model.context_window', 'Context window (tokens)', 'int', { placeholder: '8192' }),
      f('model.max_output_tokens', 'Max output tokens', 'int', { placeholder: '512' }),
      f('model.temperature', 'Temperature (0–2)', 'float'),
      f('model.top_p', 'Top p (0–1)', 'float'),
      f('model.stop', 'Stop sequences', 'chips', { wide: true })),
    h('fieldset', {}, h('legend', {}, 'Memory policy'),
      f('memory.budget_tokens', 'Budget (tokens)', 'int', { placeholder: 'window − output' }),
      f('memory.recent_max_turns', 'Recent window (turns)', 'int'),
      f('memory.recent_share', 'Recent share (0–1)', 'float'),
      f('memory.summary_share', 'Summary share', 'float'),
      f('memory.persona_share', 'Persona share', 'float'),
      f('memory.lore_share', 'Lore share', 'float'),
      f('memory.summaries', 'Summaries', 'tristate')),
    h('fieldset', {}, h('legend', {}, 'Card and metadata'),
      f('creator', 'Creator'), f('character_version', 'Character version'),
      f('creator_notes', 'Creator notes (not sent to the model)', 'textarea', { rows: 2, wide: true }),
      f('metadata', 'Metadata (JSON object)', 'json', { wide: true })),
    h('button', { type: 'submit', hidden: true }, 'Save'));
  return h('div', { class: 'split' }, form,
    h('aside', { class: 'card sticky', 'aria-label': 'Resolved preview' },
      h('h2', {}, 'Preview'),
      h('label', { for: 'preview-user' }, '{{user}} is'), userName,
      h('p', { class: 'muted small' }, '{{char}} and {{user}} as the model will see them.'), out));
}

// resolve replaces the {{char}} and {{user}} macros, case-insensitively.
export function resolve(text, char, user) {
  return String(text).replace(/\{\{char\}\}/gi, char).replace(/\{\{user\}\}/gi, user);
}
