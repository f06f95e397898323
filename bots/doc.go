// Package bots holds persona bots: persona configs and their versions
// (Validate, Expand, RenderPersona, MergePatch, ETag), the Store contract
// with its backends (bots/embeddedbots, bots/redisbots, suite bots/bottest),
// and the OpenAI-compatible client of the inference backend (bots/llm).
package bots
