package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/memory"
	"github.com/longmem/longmem/memory/embedded"
	"github.com/longmem/longmem/retrieval"
	"github.com/longmem/longmem/retrieval/embeddedindex"
)

// TestDeleteUser forgets a user over HTTP and then searches every store:
// the memory store (conversations, turns, summaries, idempotency keys),
// the recall index (no docs, nothing found) and the API (404s, an empty
// listing), while another user's and another tenant's conversations stay.
func TestDeleteUser(t *testing.T) {
	store, err := embedded.Open(embedded.Config{Dir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, store.Close()) })
	idx, err := embeddedindex.New(embeddedindex.Config{})
	require.NoError(t, err)
	d := Deps{Store: store, Tokenizer: tok, Registerer: prometheus.NewRegistry()}
	d.Indexer = retrieval.NewIndexer(store, idx, retrieval.NewAnalyzer(retrieval.AnalyzerConfig{}), tok, nil)
	d.Assembler = retrieval.NewAssembler(retrieval.AssemblerConfig{}, store, d.Indexer, tok)
	srv, err := New(Config{Keys: []Key{{Key: "ka", Tenant: "acme"}, {Key: "ko", Tenant: "other"}}}, d)
	require.NoError(t, err)
	acme := (&env{t: t, srv: srv, store: store}).as("ka")
	other := acme.as("ko")

	const user = "alice/ü 1" // any text; percent-encoded in the path
	for _, c := range []struct {
		e        *env
		id, user string
	}{{acme, "a1", user}, {acme, "a2", user}, {acme, "b1", "bob"}, {other, "o1", user}} {
		body, _ := json.Marshal(map[string]string{"id": c.id, "user_id": c.user})
		c.e.must(http.StatusCreated, "POST", "/v1/conversations", string(body))
		c.e.must(http.StatusCreated, "POST", "/v1/conversations/"+c.id+"/turns",
			`{"turns":[{"role":"user","content":"my locker code is 4471"},{"role":"user","content":"the ferry leaves at nine"}]}`,
			"Idempotency-Key: k1")
		c.e.must(http.StatusOK, "POST", "/v1/conversations/"+c.id+"/context",
			`{"message":{"role":"user","content":"what is my locker code?"},"budget_tokens":500}`)
		_, err := store.AddSummary(t.Context(), map[*env]string{acme: "acme", other: "other"}[c.e], c.id,
			memory.Summary{Level: 0, FromSeq: 1, ToSeq: 2, Content: "locker and ferry", Tokens: 4, Producer: "test"})
		require.NoError(t, err)
	}
	require.Equal(t, 8, idx.Stats().Docs)

	r := acme.must(http.StatusOK, "DELETE", "/v1/users/alice%2F%C3%BC%201", "")
	var resp deleteUserResponse
	require.NoError(t, json.Unmarshal(r.body, &resp))
	require.Equal(t, deleteUserResponse{UserID: user, Conversations: []string{"a1", "a2"}}, resp)

	// The store.
	for _, id := range resp.Conversations {
		_, err := store.GetConversation(t.Context(), "acme", id)
		require.ErrorIs(t, err, memory.ErrNotFound)
		_, err = store.Summaries(t.Context(), "acme", id)
		require.ErrorIs(t, err, memory.ErrNotFound)
		acme.must(http.StatusNotFound, "GET", "/v1/conversations/"+id+"/turns", "")
		// The index: nothing held, nothing found.
		scoped := retrieval.ScopedID("acme", id)
		wm, err := idx.Watermark(t.Context(), scoped)
		require.NoError(t, err)
		require.Zero(t, wm)
		res, err := idx.Search(t.Context(), scoped, retrieval.Query{
			Terms: retrieval.NewAnalyzer(retrieval.AnalyzerConfig{}).QueryTerms("locker code ferry"), Limit: 10})
		require.NoError(t, err)
		require.Empty(t, res.Lexical)
	}
	require.Equal(t, 4, idx.Stats().Docs, "bob's and the other tenant's docs stay")
	listed := acme.must(http.StatusOK, "GET", "/v1/conversations?user_id=alice%2F%C3%BC%201", "").json(t)
	require.Empty(t, listed["conversations"])
	other.must(http.StatusOK, "GET", "/v1/conversations/o1/turns", "")
	acme.must(http.StatusOK, "GET", "/v1/conversations/b1/turns", "")

	// Idempotency keys went too: a re-created a1 takes the same key for
	// another body as a fresh append.
	acme.must(http.StatusCreated, "POST", "/v1/conversations", `{"id":"a1","user_id":"alice/ü 1"}`)
	r = acme.must(http.StatusCreated, "POST", "/v1/conversations/a1/turns", `{"turns":[{"role":"user","content":"hello again"}]}`, "Idempotency-Key: k1")
	require.Contains(t, string(r.body), `"seq":1`)

	// A user with nothing: 200 and an empty list; bad input: 400 naming
	// the field, nothing changed.
	r = acme.must(http.StatusOK, "DELETE", "/v1/users/nobody", "")
	require.JSONEq(t, `{"user_id":"nobody","conversations":[]}`, string(r.body))
	r = acme.must(http.StatusBadRequest, "DELETE", "/v1/users/"+strings.Repeat("x", maxLabelBytes+1), "")
	require.Contains(t, string(r.body), "user_id")
	acme.must(http.StatusOK, "GET", "/v1/conversations/a1/turns", "")
}
