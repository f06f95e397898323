// Pure helpers for comparing versions and previews.

// lineDiff is an LCS diff of two texts by line: [{op:'='|'-'|'+', line}].
export function lineDiff(a, b) {
  return seqDiff((a || '').split('\n'), (b || '').split('\n'));
}

const clip = (s) => (s.length > 80 ? s.slice(0, 79) + '…' : s);

// seqDiff is an LCS diff of two lists of strings.
export function seqDiff(x, y) {
  const n = x.length, m = y.length;
  if (n * m > 4e6) return [...x.map((line) => ({ op: '-', line })), ...y.map((line) => ({ op: '+', line }))];
  const L = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--)
    L[i][j] = x[i] === y[j] ? L[i + 1][j + 1] + 1 : Math.max(L[i + 1][j], L[i][j + 1]);
  const out = [];
  let i = 0, j = 0;
  while (i < n && j < m) {
    if (x[i] === y[j]) { out.push({ op: '=', line: x[i] }); i++; j++; }
    else if (L[i + 1][j] >= L[i][j + 1]) out.push({ op: '-', line: x[i++] });
    else out.push({ op: '+', line: y[j++] });
  }
  while (i < n) out.push({ op: '-', line: x[i++] });
  while (j < m) out.push({ op: '+', line: y[j++] });
  return out;
}

// flatten maps an object to {path: leaf}: "model.temperature",
// "lorebook.entries[id=3].keys" (objects with unique ids are matched by id,
// so a reordered list diffs as its order fields only; arrays of scalars stay
// whole).
export function flatten(v, prefix = '', out = {}) {
  if (Array.isArray(v) && v.some((x) => x && typeof x === 'object')) {
    const ids = v.map((x) => x?.id);
    const byID = ids.every((id) => id !== undefined && id !== null) && new Set(ids).size === ids.length;
    v.forEach((x, i) => flatten(x, byID ? `${prefix}[id=${x.id}]` : `${prefix}[${i}]`, out));
  } else if (v && typeof v === 'object' && !Array.isArray(v)) {
    for (const k of Object.keys(v).sort()) flatten(v[k], prefix ? `${prefix}.${k}` : k, out);
  } else if (v !== undefined && v !== null && v !== '') {
    out[prefix] = v;
  }
  return out;
}

// show renders a leaf for display.
export function show(v) {
  if (v === undefined) return '';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

// Fields that change with every version and say nothing about content.
export const volatile = new Set(['version', 'created_at', 'updated_at', 'author']);

// changedFields lists the paths whose values differ between a and b.
export function changedFields(a, b) {
  const fa = flatten(a), fb = flatten(b);
  const keys = [...new Set([...Object.keys(fa), ...Object.keys(fb)])].filter((k) => !volatile.has(k)).sort();
  return keys.filter((k) => show(fa[k]) !== show(fb[k])).map((k) => ({ path: k, a: fa[k], b: fb[k] }));
}

// SECTION_NAMES are the report's sections as a designer says them.
export const SECTION_NAMES = {
  lore_constant_before: 'constant lore (before the persona)', persona: 'persona', lore_constant: 'constant lore',
  lore_before: 'triggered lore (before memory)', summaries: 'summaries', lore: 'triggered lore',
  recalled: 'recalled turns', recent: 'recent turns', post_history: 'post-history instructions', message: 'message',
};

// sectionName is a section's friendly name (unknown ones as they are).
export const sectionName = (name) => SECTION_NAMES[name] || name;

// ranges writes sorted numbers as ranges: [1,2,3,7,9,10] → "1–3, 7, 9–10".
export function ranges(nums) {
  const xs = [...new Set(nums)].sort((a, b) => a - b);
  const out = [];
  for (let i = 0; i < xs.length;) {
    let j = i;
    while (j + 1 < xs.length && xs[j + 1] === xs[j] + 1) j++;
    out.push(j > i ? `${xs[i]}–${xs[j]}` : `${xs[i]}`);
    i = j + 1;
  }
  return out.join(', ');
}

// grouped turns one move per group of seqs: "turns 12–20, 25 came in
// (recalled turns)".
function grouped(groups, kind, text) {
  return [...groups].map(([key, seqs]) => ({ kind, text: text(seqs.length === 1 ? `turn ${seqs[0]}` : `turns ${ranges(seqs)}`, key) }));
}

function groupBy(pairs) {
  const m = new Map();
  for (const [key, seq] of pairs) (m.get(key) || m.set(key, []).get(key)).push(seq);
  return m;
}

// previewMoves compares two context previews: what entered, what left, how
// each section's tokens changed. Turns are grouped into seq ranges, and
// sections have their friendly names.
export function previewMoves(prev, cur) {
  const moves = [];
  if (prev.budget !== cur.budget) moves.push({ kind: 'budget', text: `budget ${prev.budget} → ${cur.budget} tokens` });
  const secs = (r) => Object.fromEntries((r.report?.sections || []).map((s) => [s.name, s.tokens]));
  const ps = secs(prev.result), cs = secs(cur.result);
  for (const name of [...new Set([...Object.keys(ps), ...Object.keys(cs)])]) {
    const d = (cs[name] || 0) - (ps[name] || 0);
    if (d) moves.push({ kind: d > 0 ? 'up' : 'down', text: `${sectionName(name)}: ${ps[name] || 0} → ${cs[name] || 0} tokens (${d > 0 ? '+' : ''}${d})` });
  }
  const turns = (r) => new Map((r.report?.turns || []).map((t) => [t.seq, t.section]));
  const pt = turns(prev.result), ct = turns(cur.result);
  const came = [], moved = [], left = [];
  for (const [seq, sec] of ct) {
    if (!pt.has(seq)) came.push([sec, seq]);
    else if (pt.get(seq) !== sec) moved.push([`${sectionName(pt.get(seq))} → ${sectionName(sec)}`, seq]);
  }
  for (const [seq, sec] of pt) if (!ct.has(seq)) left.push([sec, seq]);
  moves.push(...grouped(groupBy(came), 'in', (t, sec) => `${t} came in (${sectionName(sec)})`));
  moves.push(...grouped(groupBy(moved), 'moved', (t, how) => `${t} moved ${how}`));
  moves.push(...grouped(groupBy(left), 'out', (t, sec) => `${t} left (was ${sectionName(sec)})`));
  const sums = (r) => new Set((r.report?.summaries || []).map((s) => `level ${s.level}, turns ${s.from_seq}–${s.to_seq}`));
  const pS = sums(prev.result), cS = sums(cur.result);
  for (const s of cS) if (!pS.has(s)) moves.push({ kind: 'in', text: `summary (${s}) came in` });
  for (const s of pS) if (!cS.has(s)) moves.push({ kind: 'out', text: `summary (${s}) left` });
  const lore = (r) => new Map((r.report?.lore || []).map((l) => [l.id, l.name || '']));
  const pl = lore(prev.result), cl = lore(cur.result);
  for (const [id, name] of cl) if (!pl.has(id)) moves.push({ kind: 'in', text: `lore entry #${id} ${name} came in` });
  for (const [id, name] of pl) if (!cl.has(id)) moves.push({ kind: 'out', text: `lore entry #${id} ${name} left` });
  // The system message (persona, lore, memory) changes in place: a line
  // diff. The other messages shift as the window moves: a sequence diff,
  // a run of several messages in (or out) as one move.
  const sys = (r) => ((r.messages || [])[0]?.role === 'system' ? r.messages[0].content : '');
  const ps0 = sys(prev.result), cs0 = sys(cur.result);
  if (ps0 !== cs0) {
    const d = lineDiff(ps0, cs0);
    const add = d.filter((x) => x.op === '+').length, del = d.filter((x) => x.op === '-').length;
    moves.push({ kind: 'moved', text: `system message: +${add} −${del} lines`, diff: d });
  }
  const rest = (r) => (r.messages || []).filter((m, i) => !(i === 0 && m.role === 'system'))
    .map((m) => `${m.role}${m.name ? ' ' + m.name : ''}: ${m.content}`);
  const diff = seqDiff(rest(prev.result), rest(cur.result));
  for (let i = 0; i < diff.length;) {
    const op = diff[i].op;
    let j = i;
    while (j < diff.length && diff[j].op === op) j++;
    if (op !== '=') {
      const run = diff.slice(i, j).map((x) => x.line);
      const what = op === '+' ? 'in' : 'out';
      if (run.length <= 2) run.forEach((line) => moves.push({ kind: what, text: `message ${what}: ${clip(line)}` }));
      else moves.push({ kind: what, text: `${run.length} messages ${what}: ${clip(run[0])} … ${clip(run[run.length - 1])}` });
    }
    i = j;
  }
  return moves;
}
