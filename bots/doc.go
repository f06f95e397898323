// Package bots holds persona bots and the chat loop: persona configs and
// their versions (Validate, Expand, RenderPersona, MergePatch, ETag), the
// Store contract with its backends (bots/embeddedbots, bots/redisbots,
// suite bots/bottest), the chat loop (Chat: store the user's message,
// assemble the context, ask the inference backend, store the reply) and
// the OpenAI-compatible client of the inference backend (bots/llm).
package bots
