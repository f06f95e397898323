// Form controls bound to a path of a draft object, with a place for the
// API's error about that path (data-field = the API's field name).
import { h } from './dom.js';

// parsePath splits "lorebook.entries[2].keys" into ["lorebook","entries",2,"keys"].
export function parsePath(p) {
  return p.split(/\.|\[(\d+)\]/).filter((s) => s !== undefined && s !== '').map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

export function getPath(o, p) {
  return parsePath(p).reduce((v, k) => (v == null ? undefined : v[k]), o);
}

// setPath sets a value, creating objects on the way; undefined deletes.
export function setPath(o, p, v) {
  const ks = parsePath(p);
  let cur = o;
  for (const k of ks.slice(0, -1)) {
    if (cur[k] == null || typeof cur[k] !== 'object') cur[k] = {};
    cur = cur[k];
  }
  const last = ks[ks.length - 1];
  if (v === undefined) delete cur[last];
  else cur[last] = v;
}

let uid = 0;

// field builds a labelled control for draft[path]. kind: text, textarea,
// int, float, bool, select (opts.options), tristate, chips, json.
// onChange runs after every edit.
export function field(draft, path, label, kind = 'text', opts = {}, onChange = () => {}) {
  const id = 'f' + ++uid;
  const errId = id + '-err';
  const cur = getPath(draft, path);
  const set = (v) => { setPath(draft, path, v); onChange(path, v); };
  let control;
  switch (kind) {
    case 'textarea':
      control = h('textarea', { id, rows: opts.rows || 4, value: cur || '', oninput: (e) => set(e.target.value || undefined) });
      break;
    case 'int':
    case 'float':
      control = h('input', { id, type: 'text', inputmode: kind === 'int' ? 'numeric' : 'decimal', value: cur ?? '',
        placeholder: opts.placeholder || '', oninput: (e) => {
          const s = e.target.value.trim();
          // A value that is not a number is sent as typed: the API names the field.
          set(s === '' ? undefined : isNaN(Number(s)) ? s : Number(s));
        } });
      break;
    case 'bool':
      control = h('input', { id, type: 'checkbox', checked: !!cur, onchange: (e) => set(e.target.checked) });
      return h('div', { class: 'field check', dataset: { field: path } }, control, h('label', { for: id }, label),
        opts.help ? h('span', { class: 'help' }, opts.help) : null, h('p', { class: 'field-error', id: errId, role: 'alert' }));
    case 'tristate':
      control = h('select', { id, onchange: (e) => set(e.target.value === '' ? undefined : e.target.value === 'true') },
        h('option', { value: '' }, opts.defaultLabel || 'server default'),
        h('option', { value: 'true', selected: cur === true }, 'on'),
        h('option', { value: 'false', selected: cur === false }, 'off'));
      break;
    case 'select':
      control = h('select', { id, onchange: (e) => set(e.target.value || undefined) },
        opts.options.map(([v, t]) => h('option', { value: v, selected: (cur || '') === v }, t)));
      break;
    case 'chips':
      control = chips(id, cur || [], (list) => set(list.length ? list : opts.keepEmpty ? [] : undefined), opts.placeholder);
      break;
    case 'json':
      control = h('textarea', { id, rows: opts.rows || 3, class: 'mono', value: cur ? JSON.stringify(cur, null, 2) : '',
        oninput: (e) => {
          const s = e.target.value.trim();
          try {
            set(s ? JSON.parse(s) : undefined);
            showError(wrap, '');
          } catch { showError(wrap, 'not valid JSON yet'); }
        } });
      break;
    default:
      control = h('input', { id, type: 'text', value: cur ?? '', placeholder: opts.placeholder || '',
        readonly: opts.readonly, oninput: (e) => set(e.target.value || undefined) });
  }
  const input = control.matches('input,textarea,select') ? control : control.querySelector('input');
  input.setAttribute('aria-describedby', errId);
  if (input.id !== id) { input.id = id; }
  const wrap = h('div', { class: 'field' + (opts.wide ? ' wide' : ''), dataset: { field: path } },
    h('label', { for: id }, label), opts.help ? h('span', { class: 'help' }, opts.help) : null,
    control, h('p', { class: 'field-error', id: errId, role: 'alert' }));
  return wrap;
}

// showError puts msg under the field wrapper (empty clears it).
export function showError(wrap, msg) {
  const p = wrap.querySelector(':scope > .field-error');
  const input = wrap.querySelector('input,textarea,select');
  if (p) p.textContent = msg;
  if (input) input.toggleAttribute('aria-invalid', !!msg);
  wrap.classList.toggle('invalid', !!msg);
}

// chips edits a list of strings: Enter or comma adds, Backspace on an empty
// input removes the last, each chip has a remove button.
export function chips(id, list, onChange, placeholder = 'type, then Enter') {
  const items = [...list];
  const box = h('div', { class: 'chips edit' });
  const input = h('input', { id, type: 'text', placeholder, 'aria-label': placeholder });
  const render = () => {
    box.replaceChildren(...items.map((t, i) => h('span', { class: 'chip' }, t,
      h('button', { type: 'button', class: 'x', 'aria-label': `Remove ${t}`, onclick: () => { items.splice(i, 1); render(); onChange(items); input.focus(); } }, '×'))), input);
  };
  const add = (refocus = true) => {
    for (const t of input.value.split(',').map((s) => s.trim()).filter(Boolean)) items.push(t);
    input.value = '';
    render();
    onChange(items);
    if (refocus) input.focus();
  };
  input.addEventListener('keydown', (e) => {
    if ((e.key === 'Enter' || e.key === ',') && input.value.trim()) { e.preventDefault(); add(); }
    else if (e.key === 'Backspace' && !input.value && items.length) { items.pop(); render(); onChange(items); input.focus(); }
  });
  input.addEventListener('blur', () => { if (input.value.trim()) add(false); });
  render();
  return box;
}
