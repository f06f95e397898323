// Character cards: import by drop or file choice, export as V2, V3 or PNG.
import { h, toast } from './dom.js';
import { request, enc } from './api.js';

// importCard returns a drop zone; onDone receives the created bot.
export function importCard(onDone) {
  const status = h('p', { class: 'field-error', role: 'alert', id: 'import-error' });
  const input = h('input', { type: 'file', id: 'card-file', accept: '.png,.json,image/png,application/json', class: 'visually-hidden' });
  const zone = h('div', { class: 'drop', id: 'card-drop', tabindex: '0', role: 'button',
    'aria-describedby': 'import-error',
    onclick: () => input.click(),
    onkeydown: (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); input.click(); } },
    ondragover: (e) => { e.preventDefault(); zone.classList.add('over'); },
    ondragleave: () => zone.classList.remove('over'),
    ondrop: (e) => { e.preventDefault(); zone.classList.remove('over'); send(e.dataTransfer.files[0]); } },
  h('strong', {}, 'Drop a PNG or JSON card here'), h('br'),
  h('span', { class: 'muted small' }, 'or press to choose a file · Character Card V2 or V3'));
  input.addEventListener('change', () => send(input.files[0]));

  async function send(file) {
    if (!file) return;
    status.textContent = '';
    const png = file.type === 'image/png' || /\.png$/i.test(file.name);
    try {
      const { data, response } = await request('POST', '/v1/bots/import', { body: file, type: png ? 'image/png' : 'application/json' });
      if (response.headers.get('X-Duplicate-Of')) toast(`${file.name} is already ${data.name} (${data.id}): opened it instead of making a copy`);
      await onDone(data);
    } catch (e) {
      status.textContent = `${file.name}: ${e.message}`;
    } finally {
      input.value = '';
    }
  }
  return h('div', {}, zone, input, status);
}

// exportButtons downloads the bot's card in each format.
export function exportButtons(bot) {
  const dl = async (format) => {
    try {
      const { data } = await request('GET', `/v1/bots/${enc(bot.id)}/card?format=${format}`);
      const blob = data instanceof Blob ? data : new Blob([JSON.stringify(data, null, 2)], { type: 'application/json' });
      const a = h('a', { href: URL.createObjectURL(blob), download: `${bot.id}.${format === 'png' ? 'png' : format + '.json'}` });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 10000);
    } catch (e) {
      toast(`Export failed: ${e.message}`);
    }
  };
  return h('div', { class: 'row' },
    h('button', { type: 'button', id: 'export-v2', onclick: () => dl('v2') }, 'Export V2 (JSON)'),
    h('button', { type: 'button', id: 'export-v3', onclick: () => dl('v3') }, 'Export V3 (JSON)'),
    h('button', { type: 'button', id: 'export-png', onclick: () => dl('png') }, 'Export PNG'));
}

// avatarImg is the bot's picture (its card's image, or a placeholder),
// fetched with the API key (an <img src> could not send it).
export function avatarImg(bot, id) {
  const img = h('img', { class: 'avatar', alt: '', width: 48, height: 48, id });
  request('GET', `/v1/bots/${enc(bot.id)}/avatar`)
    .then(({ data }) => { img.src = URL.createObjectURL(data); img.alt = `${bot.name}'s picture`; })
    .catch(() => img.remove());
  return img;
}
