// Package bots holds persona bots and the chat loop: persona configs and
// their versions, Character Card import/export, lorebooks, the chat loop
// (Chat: store the user's message, assemble the context, ask the inference
// backend, store the reply) and, in bots/llm, the OpenAI-compatible client
// of the inference backend.
package bots
