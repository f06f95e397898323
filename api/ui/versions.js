// Versions: history with author and time, side-by-side diff of two
// versions, restore.
import { h, replace, toast, fmtTime } from './dom.js';
import { api, request, enc } from './api.js';
import { changedFields, lineDiff, show } from './diff.js';

export async function versionsPanel(panel, page) {
  const id = page.bot.id;
  const { versions = [] } = await api.get(`/v1/bots/${enc(id)}/versions`);
  const latest = versions.length ? versions[versions.length - 1].version : page.bot.version;
  let a = Math.max(1, latest - 1), b = latest;
  const out = h('div', { id: 'version-diff' });
  const radio = (side, v) => h('input', { type: 'radio', name: `side-${side}`, value: v, checked: (side === 'a' ? a : b) === v,
    'aria-label': `Compare version ${v} on the ${side === 'a' ? 'left' : 'right'}`,
    onchange: () => { if (side === 'a') a = v; else b = v; compare(); } });
  const restore = async (v) => {
    try {
      const res = await request('POST', `/v1/bots/${enc(id)}/versions/${v}/restore`, { headers: { 'If-Match': page.etag } });
      page.saved(res.data, res.etag); // shows this tab again, reloaded
      toast(`Restored version ${v} as version ${res.data.version}`);
    } catch (e) {
      if (e.status === 412) return page.conflict();
      toast(`Restore failed: ${e.message}`);
    }
  };
  const compare = async () => {
    replace(out, h('p', { class: 'muted' }, 'Loading…'));
    try {
      const [va, vb] = await Promise.all([a, b].map((v) => api.get(`/v1/bots/${enc(id)}/versions/${v}`)));
      replace(out, diffTable(va, vb));
    } catch (e) {
      replace(out, h('p', { class: 'field-error' }, e.message));
    }
  };
  replace(panel,
    h('h2', {}, 'History'),
    h('div', { class: 'scroll-x' }, h('table', { class: 'versions', id: 'versions' },
      h('thead', {}, h('tr', {}, ['Left', 'Right', 'Version', 'Author', 'Saved', ''].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, [...versions].reverse().map((v) => h('tr', {},
        h('td', {}, radio('a', v.version)), h('td', {}, radio('b', v.version)),
        h('td', {}, `v${v.version}`, v.version === latest ? h('span', { class: 'chip' }, 'latest') : null),
        h('td', {}, v.author || '—'), h('td', {}, fmtTime(v.created_at)),
        h('td', {}, v.version === latest ? null : h('button', { type: 'button', onclick: () => restore(v.version) }, `Restore v${v.version}`))))))),
    h('h2', {}, 'Differences'), out);
  if (versions.length > 1) await compare();
  else replace(out, h('p', { class: 'muted' }, 'Only one version so far.'));
}

// diffTable shows the fields that differ, left and right, with changed
// lines of long texts marked.
function diffTable(va, vb) {
  const rows = changedFields(va, vb);
  const head = h('p', { class: 'muted' },
    `v${va.version} (${va.author || '—'}, ${fmtTime(va.updated_at || va.created_at)}) ↔ v${vb.version} (${vb.author || '—'}, ${fmtTime(vb.updated_at || vb.created_at)})`);
  if (!rows.length) return h('div', {}, head, h('p', {}, 'No differences in content.'));
  return h('div', {}, head, h('div', { class: 'scroll-x' }, h('table', { class: 'diff' },
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Field'), h('th', { scope: 'col' }, `v${va.version}`), h('th', { scope: 'col' }, `v${vb.version}`))),
    h('tbody', {}, rows.map((r) => {
      const [left, right] = sides(show(r.a), show(r.b));
      return h('tr', {}, h('th', { scope: 'row' }, h('code', {}, r.path)), h('td', { class: 'pre' }, left), h('td', { class: 'pre' }, right));
    })))));
}

// sides renders a line diff as two columns: removed lines on the left,
// added lines on the right, shared lines on both.
function sides(a, b) {
  const L = [], R = [];
  for (const { op, line } of lineDiff(a, b)) {
    if (op !== '+') L.push(h('div', { class: op === '-' ? 'del' : '' }, line || '\u00a0'));
    if (op !== '-') R.push(h('div', { class: op === '+' ? 'add' : '' }, line || '\u00a0'));
  }
  if (!a) L.splice(0, L.length, h('div', { class: 'muted' }, '(empty)'));
  if (!b) R.splice(0, R.length, h('div', { class: 'muted' }, '(empty)'));
  return [L, R];
}
