package api

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/bots/llm"
	"github.com/longmem/longmem/bots/llm/llmtest"
)

// A streamed chat whose backend fails before the first token answers a
// real error status (no 200 and event: error), on both chat routes; the
// message suggests an Idempotency-Key retry only to a client that sent
// one. Once a token went out, the failure is an event (TestChatStreamBreaks).
func TestStreamFailsBeforeFirstToken(t *testing.T) {
	e := newChatEnv(t, func(w http.ResponseWriter, _ *http.Request, _ llmtest.Request, _ int) {
		llmtest.WriteError(w, http.StatusServiceUnavailable, "expert shard unavailable")
	}, llm.Config{})
	e.putBot(mira)
	e.must(http.StatusCreated, "POST", "/v1/conversations", `{"id":"c","bot_id":"mira"}`)

	// Without a key: 502, and no advice to retry with a key it never sent.
	r := e.must(http.StatusBadGateway, "POST", "/v1/conversations/c/chat", `{"message":{"content":"a story"},"stream":true}`)
	require.Contains(t, r.header.Get("Content-Type"), "application/json")
	code, msg := r.errorCode(t)
	require.Equal(t, "backend_error", code)
	require.Contains(t, msg, "expert shard unavailable")
	require.NotContains(t, msg, "retry with the same Idempotency-Key")
	require.Contains(t, msg, "no Idempotency-Key")

	// With a key: the advice names it.
	r = e.must(http.StatusBadGateway, "POST", "/v1/conversations/c/chat", `{"message":{"content":"a story"},"stream":true}`, "Idempotency-Key: s2")
	_, msg = r.errorCode(t)
	require.Contains(t, msg, "retry with the same Idempotency-Key")

	// The OpenAI-compatible route: an OpenAI error object with the status.
	r = e.must(http.StatusBadGateway, "POST", "/v1/chat/completions",
		`{"model":"mira","stream":true,"messages":[{"role":"user","content":"a story"}],"user":"c"}`)
	require.Contains(t, r.header.Get("Content-Type"), "application/json")
	var body struct {
		Error map[string]any `json:"error"`
	}
	require.NoError(t, json.Unmarshal(r.body, &body))
	require.Contains(t, body.Error["message"], "expert shard unavailable")
	require.NotContains(t, body.Error["message"], "retry with the same Idempotency-Key")
}
