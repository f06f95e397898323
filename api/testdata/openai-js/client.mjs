// Drives longmem's OpenAI-compatible routes with the official OpenAI
// JavaScript client, unchanged. Usage: node client.mjs BASE_URL
// Prints one JSON object with what the client saw; api/openai_js_test.go
// checks it.
import OpenAI from 'openai';

const client = new OpenAI({ baseURL: process.argv[2], apiKey: 'unused', maxRetries: 0 });
const out = {};

const models = await client.models.list();
out.models = models.data.map((m) => m.id);

const plain = await client.chat.completions.create({
  model: 'mira',
  messages: [{ role: 'user', content: 'Is the lamp lit?' }],
  user: 'js-1',
});
out.plain = { content: plain.choices[0].message.content, finish: plain.choices[0].finish_reason, total: plain.usage.total_tokens };

const stream = await client.chat.completions.create({
  model: 'mira',
  messages: [{ role: 'user', content: 'And now?' }],
  user: 'js-1',
  stream: true,
  stream_options: { include_usage: true },
});
out.pieces = [];
for await (const chunk of stream) {
  const d = chunk.choices[0]?.delta?.content;
  if (d) out.pieces.push(d);
  if (chunk.usage) out.streamTotal = chunk.usage.total_tokens;
}

try {
  await client.chat.completions.create({ model: 'nobody', messages: [{ role: 'user', content: 'hi' }] });
  out.error = null;
} catch (e) {
  out.error = { status: e.status, type: e.type ?? null, code: e.code ?? null, isAPIError: e instanceof OpenAI.APIError };
}
console.log(JSON.stringify(out));
