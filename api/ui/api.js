// The page's only way to the server: the public REST API, with the API key
// from session storage as a bearer token.

const KEY = 'longmem.apiKey';

export const auth = {
  key: () => sessionStorage.getItem(KEY) || '',
  set: (k) => (k ? sessionStorage.setItem(KEY, k) : sessionStorage.removeItem(KEY)),
  // open is true when the server asks for no key (no keys configured).
  open: false,
};

// APIError is a non-2xx answer: {"error":{"code","message","field"}}.
export class APIError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field || fieldOf(message);
  }
}

// fieldOf reads the field a validation message starts with ("name: is
// required" → "name"), for servers that send no "field" member.
export function fieldOf(message = '') {
  const m = /^([A-Za-z_][\w]*(?:\[\d+\]|\.[A-Za-z_]\w*)*):\s/.exec(message);
  return m ? m[1] : '';
}

// request sends one call; body is JSON unless it is a Blob/File or string.
// It resolves to {data, etag, response}; a non-2xx rejects with APIError.
export async function request(method, path, { body, headers = {}, type } = {}) {
  const h = new Headers(headers);
  const k = auth.key();
  if (k) h.set('Authorization', 'Bearer ' + k);
  let b = body;
  if (body instanceof Blob) {
    if (type) h.set('Content-Type', type);
  } else if (body !== undefined) {
    b = typeof body === 'string' ? body : JSON.stringify(body);
    h.set('Content-Type', type || 'application/json');
  }
  const r = await fetch(path, { method, headers: h, body: b });
  if (!r.ok) {
    let e = {};
    try { e = (await r.json()).error || {}; } catch { /* not JSON */ }
    throw new APIError(r.status, e.code || String(r.status), e.message || r.statusText, e.field);
  }
  let data = null;
  const ct = r.headers.get('Content-Type') || '';
  if (r.status !== 204) data = ct.includes('json') ? await r.json() : await r.blob();
  return { data, etag: r.headers.get('ETag') || '', response: r };
}

export const api = {
  get: async (p) => (await request('GET', p)).data,
  post: async (p, body, opts) => (await request('POST', p, { body, ...opts })).data,
  del: async (p) => (await request('DELETE', p)).data,
};

// q builds a query string from the non-empty values of o.
export function q(o) {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(o)) if (v !== '' && v !== undefined && v !== null) s.set(k, v);
  const t = s.toString();
  return t ? '?' + t : '';
}

export const enc = encodeURIComponent;
