// Package bots holds persona bots and the chat loop: persona configs and
// their versions, Character Card import/export, lorebooks, and the
// OpenAI-compatible client of the inference backend. It is being built
// (see the project's open issues); nothing imports it yet.
package bots
