package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/retrieval"
)

func (e *env) context(id, body string) retrieval.Context {
	e.t.Helper()
	r := e.must(http.StatusOK, "POST", "/v1/conversations/"+id+"/context", body)
	var out retrieval.Context
	require.NoError(e.t, json.Unmarshal(r.body, &out))
	return out
}

func TestContextRecallsWithinBudget(t *testing.T) {
	e := newEnv(t, Config{})
	e.createConversation("c")
	var contents []string
	for i := 0; i < 120; i++ {
		contents = append(contents, fmt.Sprintf("filler turn number %d about the weather and the garden", i))
	}
	contents[10] = "My grandmother's lasagne recipe uses nutmeg in the béchamel."
	e.appendContents("c", contents...)

	out := e.context("c", `{"message":{"role":"user","content":"what spice goes in the lasagne?"},"budget_tokens":400}`)
	require.LessOrEqual(t, out.Report.UsedTokens, 400)
	// Cache layout: recent turns, then the recalled material in a system
	// message right before the new message.
	recalled := out.Messages[len(out.Messages)-2]
	require.Equal(t, "system", recalled.Role)
	require.Contains(t, recalled.Content, contents[10])
	last := out.Messages[len(out.Messages)-1]
	require.Equal(t, "what spice goes in the lasagne?", last.Content)
	var found bool
	for _, tr := range out.Report.Turns {
		if tr.Seq == 11 {
			found = true
			require.Contains(t, tr.Reasons, retrieval.ReasonLexical)
		}
	}
	require.True(t, found, "the report names the recalled turn")
	require.Len(t, e.turnList("c"), 120, "the context call stores nothing")

	// Forgetting a turn removes it from recall too.
	e.must(http.StatusNoContent, "DELETE", "/v1/conversations/c/turns/11", "")
	out = e.context("c", `{"message":{"content":"what spice goes in the lasagne?"},"budget_tokens":400}`)
	require.NotContains(t, out.Messages[0].Content, "nutmeg")
}

func TestContextErrors(t *testing.T) {
	e := newEnv(t, Config{MaxTurnBytes: 100})
	e.createConversation("c")
	e.appendContents("c", "hello")
	for _, tc := range []struct {
		body   string
		status int
		field  string
	}{
		{`{"message":{"content":"hi"}}`, http.StatusBadRequest, "budget_tokens"},
		{`{"message":{"content":"hi"},"budget_tokens":0}`, http.StatusBadRequest, "budget_tokens"},
		{`{"message":{"content":"hi"},"budget_tokens":-3}`, http.StatusBadRequest, "budget_tokens"},
		{`{"message":{"content":"` + strings.Repeat("word ", 18) + `"},"budget_tokens":10}`, http.StatusBadRequest, "too small for the message"},
		{`{"message":{"content":""},"budget_tokens":100}`, http.StatusBadRequest, "message.content"},
		{`{"message":{"role":"robot","content":"x"},"budget_tokens":100}`, http.StatusBadRequest, "message.role"},
		{`{"message":{"content":"x"},"budget_tokens":100,"bogus":1}`, http.StatusBadRequest, "bogus"},
		{`{"message":{"content":"` + strings.Repeat("x", 101) + `"},"budget_tokens":100}`, http.StatusRequestEntityTooLarge, "message.content"},
		{`not json`, http.StatusBadRequest, "invalid JSON"},
	} {
		r := e.must(tc.status, "POST", "/v1/conversations/c/context", tc.body)
		_, msg := r.errorCode(t)
		require.Contains(t, msg, tc.field, tc.body)
	}
	r := e.must(http.StatusNotFound, "POST", "/v1/conversations/nope/context", `{"message":{"content":"x"},"budget_tokens":100}`)
	code, _ := r.errorCode(t)
	require.Equal(t, "not_found", code)
}

func TestContextTenantIsolation(t *testing.T) {
	e := newEnv(t, Config{Keys: []Key{{"ka", "a"}, {"kb", "b"}}})
	a, b := e.as("ka"), e.as("kb")
	a.createConversation("c")
	a.appendContents("c", "tenant a's secret is swordfish")
	b.must(http.StatusNotFound, "POST", "/v1/conversations/c/context", `{"message":{"content":"secret?"},"budget_tokens":200}`)
	b.createConversation("c")
	out := b.context("c", `{"message":{"content":"secret swordfish?"},"budget_tokens":200}`)
	for _, m := range out.Messages {
		require.NotContains(t, m.Content, "swordfish is", "another tenant's turns never leak")
		require.NotContains(t, m.Content, "tenant a")
	}
}

// TestMetricsShowDegradedRecall: /metrics counts contexts assembled without
// the index or the embedder (the counting itself is tested in retrieval).
func TestMetricsShowDegradedRecall(t *testing.T) {
	e := newEnv(t, Config{})
	body := string(e.must(http.StatusOK, "GET", "/metrics", "").body)
	require.Contains(t, body, `longmem_recall_degraded_total{part="index"} 0`)
	require.Contains(t, body, `longmem_recall_degraded_total{part="embedder"} 0`)
}
