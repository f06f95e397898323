package api

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/bots/llm"
	"github.com/longmem/longmem/bots/llm/llmtest"
)

// A name two bots share is a 409 listing their ids, never a silent pick;
// a unique name, or an id, still works.
func TestChatCompletionsAmbiguousName(t *testing.T) {
	e := newChatEnv(t, llmtest.Reply(testUsage, "Aye."), llm.Config{})
	e.putBot(mira)
	twin := mira
	twin.ID = "mira-2"
	e.putBot(twin)
	lower := mira
	lower.ID, lower.Name = "sol", "sol"
	e.putBot(lower)

	for _, model := range []string{"Mira", "MIRA"} {
		r := e.must(http.StatusConflict, "POST", "/v1/chat/completions",
			`{"model":`+jsonQuote(model)+`,"messages":[{"role":"user","content":"hi"}],"user":"c1"}`)
		var body struct {
			Error map[string]any `json:"error"`
		}
		require.NoError(t, json.Unmarshal(r.body, &body))
		require.Equal(t, "conflict", body.Error["code"])
		require.Contains(t, body.Error["message"], `"mira", "mira-2"`)
	}
	require.Zero(t, e.backend.Calls())
	e.must(http.StatusNotFound, "GET", "/v1/conversations/c1", "")

	// An id is never ambiguous; a name of one bot (any case) is not either.
	e.must(http.StatusOK, "POST", "/v1/chat/completions", `{"model":"mira-2","messages":[{"role":"user","content":"hi"}],"user":"c2"}`)
	e.must(http.StatusOK, "POST", "/v1/chat/completions", `{"model":"SOL","messages":[{"role":"user","content":"hi"}],"user":"c3"}`)
}

func jsonQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
