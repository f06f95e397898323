// The lorebook editor: entries with key chips, toggles, reordering, and the
// "which entries trigger for this text" tester.
import { h, replace, toast } from './dom.js';
import { api, enc, request } from './api.js';
import { field } from './form.js';

const LOGIC = [['', 'and any (default)'], ['and_any', 'and any'], ['and_all', 'and all'], ['not_any', 'not any'], ['not_all', 'not all']];
const POSITION = [['', 'after char (default)'], ['before_char', 'before char'], ['after_char', 'after char']];

export function lorePanel(page) {
  const d = page.draft;
  const onChange = () => page.changed();
  const list = h('ol', { class: 'lore-entries', id: 'lore-entries' });
  const book = () => (d.lorebook ||= { entries: [] });

  const draw = () => {
    const entries = d.lorebook?.entries || [];
    replace(list, entries.map((e, i) => entryCard(e, i, entries.length)));
    if (!entries.length) list.append(h('li', { class: 'muted' }, 'No entries yet.'));
  };
  const move = (i, j) => {
    const es = book().entries;
    [es[i], es[j]] = [es[j], es[i]];
    es.forEach((e, k) => { e.insertion_order = k; }); // list order is insertion order
    draw();
    onChange();
    const moved = list.querySelectorAll('.entry')[j];
    const [want, other] = j < i ? ['.up', '.down'] : ['.down', '.up'];
    (moved?.querySelector(`${want}:not(:disabled)`) || moved?.querySelector(other))?.focus();
  };
  const entryCard = (e, i, n) => {
    const p = `lorebook.entries[${i}]`;
    const f = (k, label, kind, opts) => field(d, `${p}.${k}`, label, kind, opts, (path) => {
      onChange();
      if (k === 'selective') card.classList.toggle('selective', !!e.selective);
      if (k === 'enabled') card.classList.toggle('disabled', !e.enabled);
      if (k === 'name' || k === 'comment') title.textContent = e.name || e.comment || `Entry ${e.id}`;
    });
    const title = h('strong', {}, e.name || e.comment || `Entry ${e.id}`);
    const card = h('li', { class: 'entry card' + (e.selective ? ' selective' : '') + (e.enabled ? '' : ' disabled'), dataset: { field: p, entryId: e.id } },
      h('div', { class: 'row between' },
        h('span', {}, h('span', { class: 'muted' }, `#${e.id} `), title),
        h('span', { class: 'row' },
          h('button', { type: 'button', class: 'up', disabled: i === 0, 'aria-label': `Move entry ${e.id} up`, onclick: () => move(i, i - 1) }, '↑'),
          h('button', { type: 'button', class: 'down', disabled: i === n - 1, 'aria-label': `Move entry ${e.id} down`, onclick: () => move(i, i + 1) }, '↓'),
          h('button', { type: 'button', class: 'danger', 'aria-label': `Remove entry ${e.id}`, onclick: () => { book().entries.splice(i, 1); draw(); onChange(); } }, 'Remove'))),
      h('p', { class: 'field-error', role: 'alert' }),
      h('div', { class: 'toggles' },
        f('enabled', 'Enabled', 'bool'), f('constant', 'Constant (always in)', 'bool'),
        f('selective', 'Selective (use secondary keys)', 'bool'), f('case_sensitive', 'Case sensitive', 'bool')),
      h('div', { class: 'grid' },
        f('name', 'Name'),
        f('keys', 'Keys', 'chips', { keepEmpty: true, placeholder: 'key, then Enter' }),
        h('div', { class: 'secondary' },
          f('secondary_keys', 'Secondary keys', 'chips', { placeholder: 'key, then Enter' }),
          f('selective_logic', 'Secondary logic', 'select', { options: LOGIC })),
        f('position', 'Position', 'select', { options: POSITION }),
        f('insertion_order', 'Insertion order', 'int'),
        f('priority', 'Priority (lower dropped first)', 'int'),
        f('extensions.match_whole_words', 'Whole words', 'tristate', { defaultLabel: 'default (whole words)' }),
        f('content', 'Content', 'textarea', { rows: 3, wide: true }),
        f('comment', 'Comment', 'text', { wide: true })));
    return card;
  };
  const add = () => {
    const es = book().entries ||= [];
    const id = es.reduce((m, e) => Math.max(m, e.id + 1), 0);
    es.push({ id, keys: [], enabled: true, insertion_order: es.length, content: '' });
    draw();
    onChange();
    list.lastElementChild.querySelector('input[type=text]')?.focus();
  };
  draw();

  const bf = (k, label, kind, opts) => field(d, `lorebook.${k}`, label, kind, opts, onChange);
  return h('div', { class: 'split' },
    h('div', {},
      h('fieldset', {}, h('legend', {}, 'Lorebook'),
        bf('name', 'Name'), bf('scan_depth', 'Scan depth (recent turns)', 'int', { placeholder: '4' }),
        bf('token_budget', 'Token budget', 'int', { placeholder: 'lore share' }),
        bf('recursive_scanning', 'Recursive scanning', 'bool'),
        bf('description', 'Description', 'textarea', { rows: 2, wide: true })),
      importLore(page),
      h('div', { class: 'row between' }, h('h2', {}, 'Entries'),
        h('button', { type: 'button', id: 'add-entry', onclick: add }, 'Add entry')),
      list),
    tester(page, list));
}

// tester asks the server which entries of the saved bot trigger for a text.
function tester(page, list) {
  const text = h('textarea', { id: 'lore-test-text', rows: 4, placeholder: 'A message, e.g. "Tell me about the castle"' });
  const out = h('div', { id: 'lore-test-result', 'aria-live': 'polite' });
  const run = async () => {
    if (!page.bot) { replace(out, h('p', { class: 'muted' }, 'Create the bot first.')); return; }
    try {
      const r = await api.post(`/v1/bots/${enc(page.bot.id)}/lore/test`, { text: text.value });
      for (const el of list.querySelectorAll('.entry')) el.classList.remove('hit');
      const hit = (id) => list.querySelector(`.entry[data-entry-id="${id}"]`)?.classList.add('hit');
      (r.triggered || []).forEach((t) => hit(t.id));
      (r.constant || []).forEach(hit);
      replace(out,
        page.dirty ? h('p', { class: 'warn small' }, `Tested against saved version ${page.bot.version}; save to test your edits.`) : null,
        h('h3', {}, `Triggered (${(r.triggered || []).length})`),
        h('ul', {}, (r.triggered || []).map((t) => h('li', {}, h('strong', {}, `#${t.id} ${t.name || ''}`), ' — ', (t.reasons || []).join('; ')))),
        h('h3', {}, `Constant (${(r.constant || []).length})`),
        h('p', {}, (r.constant || []).map((id) => `#${id}`).join(', ') || 'none'));
    } catch (e) {
      replace(out, h('p', { class: 'field-error' }, e.message));
    }
  };
  text.addEventListener('keydown', (e) => { if ((e.ctrlKey || e.metaKey) && e.key === 'Enter') run(); });
  return h('aside', { class: 'card sticky' },
    h('h2', {}, 'Which entries trigger?'),
    h('label', { for: 'lore-test-text' }, 'Text'), text,
    h('button', { type: 'button', id: 'lore-test', onclick: run }, 'Test (Ctrl+Enter)'), out);
}

// importLore replaces the saved bot's lorebook with a file: longmem's
// lorebook JSON, a SillyTavern World Info file, or a Character Card (its
// character_book). The server reads it and stores a new version.
function importLore(page) {
  const status = h('p', { class: 'field-error', role: 'alert', id: 'lore-import-error' });
  const input = h('input', { type: 'file', id: 'lore-file', accept: '.json,.png,application/json,image/png', class: 'visually-hidden' });
  const send = async (file) => {
    if (!file) return;
    status.textContent = '';
    try {
      if (!page.bot) throw new Error('Create the bot first, then import its lorebook.');
      if (page.dirty) throw new Error('Save or discard your changes first: the import makes a new version of the saved bot.');
      const png = file.type === 'image/png' || /\.png$/i.test(file.name);
      const res = await request('PUT', `/v1/bots/${enc(page.bot.id)}/lorebook`,
        { body: file, type: png ? 'image/png' : 'application/json', headers: { 'If-Match': page.etag } });
      const form = { worldinfo: 'World Info file', card: "card's lorebook", lorebook: 'lorebook' }[res.response.headers.get('X-Lorebook-Format')] || 'lorebook';
      page.saved(res.data, res.etag);
      toast(`Imported the ${form} ${file.name}: ${res.data.lorebook?.entries?.length || 0} entries (version ${res.data.version})`);
    } catch (e) {
      status.textContent = `${file.name}: ${e.message}`;
    } finally {
      input.value = '';
    }
  };
  input.addEventListener('change', () => send(input.files[0]));
  const zone = h('div', { class: 'drop small', id: 'lore-drop', tabindex: '0', role: 'button', 'aria-describedby': 'lore-import-error',
    onclick: () => input.click(),
    onkeydown: (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); input.click(); } },
    ondragover: (e) => { e.preventDefault(); zone.classList.add('over'); },
    ondragleave: () => zone.classList.remove('over'),
    ondrop: (e) => { e.preventDefault(); zone.classList.remove('over'); send(e.dataTransfer.files[0]); } },
  h('strong', {}, 'Import a lorebook'), ' ',
  h('span', { class: 'muted small' }, 'SillyTavern World Info, longmem lorebook JSON, or a card — replaces the entries below'));
  return h('div', {}, zone, input, status);
}
