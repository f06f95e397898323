package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/bots"
	"github.com/longmem/longmem/bots/embeddedbots"
	"github.com/longmem/longmem/memory/embedded"
)

// newBotsEnv is newEnv with an embedded bot store; edits change the Deps
// before the server is built.
func newBotsEnv(t testing.TB, cfg Config, edits ...func(*Deps)) *env {
	t.Helper()
	dir := t.TempDir()
	store, err := embedded.Open(embedded.Config{Dir: dir})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, store.Close()) })
	bs, err := embeddedbots.Open(embeddedbots.Config{Dir: dir})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, bs.Close()) })
	deps := Deps{Store: store, Tokenizer: tok, Registerer: prometheus.NewRegistry(), Bots: bs}
	for _, edit := range edits {
		edit(&deps)
	}
	srv, err := New(cfg, recallDeps(t, deps))
	require.NoError(t, err)
	return &env{t: t, srv: srv, store: store}
}

func decodeBot(t testing.TB, r response) bots.Bot {
	t.Helper()
	var b bots.Bot
	require.NoError(t, json.Unmarshal(r.body, &b), "body: %s", r.body)
	require.Equal(t, bots.ETag(b.ID, b.Version), r.header.Get("ETag"))
	return b
}

const ariaJSON = `{"id":"aria","name":"Aria","description":"A ship's AI.","tags":["sci-fi"],
	"model":{"temperature":0.7,"context_window":16384},"lorebook":{"entries":[{"id":1,"keys":["castle"],"content":"Old.","enabled":true}]}}`

func TestBotsCreateGet(t *testing.T) {
	e := newBotsEnv(t, Config{})
	r := e.must(http.StatusCreated, "POST", "/v1/bots", ariaJSON, "X-Author: alice")
	require.Equal(t, "/v1/bots/aria", r.header.Get("Location"))
	require.Equal(t, `"aria.v1"`, r.header.Get("ETag"))
	b := decodeBot(t, r)
	require.Equal(t, 1, b.Version)
	require.Equal(t, "alice", b.Author)
	require.Equal(t, 0.7, *b.Model.Temperature)
	require.Equal(t, "castle", b.Lorebook.Entries[0].Keys[0])
	require.False(t, b.CreatedAt.IsZero())

	got := decodeBot(t, e.must(http.StatusOK, "GET", "/v1/bots/aria", ""))
	require.Equal(t, b, got)

	// Server-set fields in the body are ignored; the author defaults.
	r = e.must(http.StatusCreated, "POST", "/v1/bots", `{"name":"Generated","version":9,"author":"x"}`)
	gen := decodeBot(t, r)
	require.True(t, bots.ValidID(gen.ID))
	require.True(t, strings.HasPrefix(gen.ID, "b"), gen.ID)
	require.Equal(t, 1, gen.Version)
	require.Equal(t, "anonymous", gen.Author)
	require.Equal(t, "/v1/bots/"+gen.ID, r.header.Get("Location"))

	r = e.must(http.StatusConflict, "POST", "/v1/bots", ariaJSON)
	code, msg := r.errorCode(t)
	require.Equal(t, "conflict", code)
	require.Contains(t, msg, `"aria"`)
	code, _ = e.must(http.StatusNotFound, "GET", "/v1/bots/nobody", "").errorCode(t)
	require.Equal(t, "not_found", code)
}

func TestBotsValidation(t *testing.T) {
	e := newBotsEnv(t, Config{})
	for _, tc := range []struct{ body, field string }{
		{`{"id":"x"}`, "name"},
		{`{"name":"x","model":{"temperature":2.5}}`, "model.temperature"},
		{`{"name":"x","model":{"top_p":"high"}}`, "model.top_p"},
		{`{"name":"x","memory":{"recent_share":0.6,"lore_share":0.6}}`, "memory"},
		{`{"name":"x","lorebook":{"entries":[{"id":1,"keys":["a"]},{"id":2,"keys":["b"]},{"id":3,"keys":[""]}]}}`, "lorebook.entries[2].keys[0]"},
		{`{"name":"x","id":"bad id"}`, "id"},
		{`{"name":"x","tenant":"other"}`, "tenant"},
		{`{"name":`, "body"},
	} {
		r := e.must(http.StatusBadRequest, "POST", "/v1/bots", tc.body)
		code, msg := r.errorCode(t)
		require.Equal(t, "invalid_request", code)
		require.Contains(t, msg, tc.field, tc.body)
	}
	list := e.must(http.StatusOK, "GET", "/v1/bots", "").json(t)
	require.Empty(t, list["bots"], "nothing was stored")

	e.must(http.StatusCreated, "POST", "/v1/bots", ariaJSON)
	_, msg := e.must(http.StatusBadRequest, "PUT", "/v1/bots/aria", `{"id":"other","name":"x"}`).errorCode(t)
	require.True(t, strings.HasPrefix(msg, "id: "), msg)
	_, msg = e.must(http.StatusBadRequest, "PATCH", "/v1/bots/aria", `{"model":{"context_window":100}}`).errorCode(t)
	require.Contains(t, msg, "model.context_window")
	_, msg = e.must(http.StatusBadRequest, "PATCH", "/v1/bots/aria", `{"id":"renamed"}`).errorCode(t)
	require.True(t, strings.HasPrefix(msg, "id: "), msg)
	_, msg = e.must(http.StatusBadRequest, "GET", "/v1/bots/aria/versions/0", "").errorCode(t)
	require.True(t, strings.HasPrefix(msg, "v: "), msg)
	_, msg = e.must(http.StatusBadRequest, "PUT", "/v1/bots/aria", ariaJSON, "X-Author: "+strings.Repeat("a", 101)).errorCode(t)
	require.True(t, strings.HasPrefix(msg, "X-Author: "), msg)
	e.must(http.StatusBadRequest, "GET", "/v1/bots/bad.id", "")
	e.must(http.StatusBadRequest, "GET", "/v1/bots?after=bad.id", "")
	require.Equal(t, 1, decodeBot(t, e.must(http.StatusOK, "GET", "/v1/bots/aria", "")).Version, "no bad request made a version")
}

func TestBotsPutIfMatch(t *testing.T) {
	e := newBotsEnv(t, Config{})
	e.must(http.StatusCreated, "POST", "/v1/bots", ariaJSON)
	r := e.must(http.StatusOK, "PUT", "/v1/bots/aria", `{"name":"Aria 2"}`, `If-Match: "aria.v1"`, "X-Author: bob")
	v2 := decodeBot(t, r)
	require.Equal(t, 2, v2.Version)
	require.Equal(t, "bob", v2.Author)
	require.Nil(t, v2.Lorebook, "PUT replaces the whole bot")

	for _, tag := range []string{`"aria.v1"`, `"aria.v3"`, `"other.v2"`, `W/"aria.v2"`, `garbage`} {
		r = e.must(http.StatusPreconditionFailed, "PUT", "/v1/bots/aria", `{"name":"Lost"}`, "If-Match: "+tag)
		code, _ := r.errorCode(t)
		require.Equal(t, "precondition_failed", code, tag)
	}
	r = e.must(http.StatusOK, "PUT", "/v1/bots/aria", `{"id":"aria","name":"Aria 3"}`, `If-Match: "aria.v1", "aria.v2"`)
	require.Equal(t, 3, decodeBot(t, r).Version, "a list of tags matches the latest")
	r = e.must(http.StatusOK, "PUT", "/v1/bots/aria", `{"name":"Aria 4"}`, `If-Match: *`)
	require.Equal(t, 4, decodeBot(t, r).Version)
	r = e.must(http.StatusOK, "PUT", "/v1/bots/aria", `{"name":"Aria 5"}`)
	require.Equal(t, 5, decodeBot(t, r).Version, "without If-Match the update is unconditional")
	e.must(http.StatusNotFound, "PUT", "/v1/bots/nobody", `{"name":"x"}`)

	// Racing PUTs with the same If-Match: exactly one wins.
	const n = 6
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = e.do("PUT", "/v1/bots/aria", fmt.Sprintf(`{"name":"racer %d"}`, i), `If-Match: "aria.v5"`).status
		}()
	}
	wg.Wait()
	won := 0
	for _, s := range statuses {
		if s == http.StatusOK {
			won++
		} else {
			require.Equal(t, http.StatusPreconditionFailed, s)
		}
	}
	require.Equal(t, 1, won)
}

func TestBotsPatch(t *testing.T) {
	e := newBotsEnv(t, Config{})
	e.must(http.StatusCreated, "POST", "/v1/bots", ariaJSON)
	r := e.must(http.StatusOK, "PATCH", "/v1/bots/aria", `{"description":null,"model":{"temperature":null,"top_p":0.9},"tags":["a","b"]}`,
		"Content-Type: application/merge-patch+json", `If-Match: "aria.v1"`)
	b := decodeBot(t, r)
	require.Equal(t, 2, b.Version)
	require.Equal(t, "Aria", b.Name, "untouched fields stay")
	require.Empty(t, b.Description)
	require.Nil(t, b.Model.Temperature)
	require.Equal(t, 0.9, *b.Model.TopP)
	require.Equal(t, 16384, b.Model.ContextWindow, "objects merge")
	require.Equal(t, []string{"a", "b"}, b.Tags)
	require.Len(t, b.Lorebook.Entries, 1)

	code, _ := e.must(http.StatusPreconditionFailed, "PATCH", "/v1/bots/aria", `{"name":"x"}`, `If-Match: "aria.v1"`).errorCode(t)
	require.Equal(t, "precondition_failed", code)
	e.must(http.StatusBadRequest, "PATCH", "/v1/bots/aria", `[1,2]`)
	e.must(http.StatusBadRequest, "PATCH", "/v1/bots/aria", `{"no_such":1}`)
	e.must(http.StatusNotFound, "PATCH", "/v1/bots/nobody", `{"name":"x"}`)

	// Concurrent PATCHes without If-Match each land on the latest version.
	const n = 6
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.must(http.StatusOK, "PATCH", "/v1/bots/aria", fmt.Sprintf(`{"metadata":{"k%d":true}}`, i))
		}()
	}
	wg.Wait()
	b = decodeBot(t, e.must(http.StatusOK, "GET", "/v1/bots/aria", ""))
	require.Equal(t, 2+n, b.Version)
	require.Len(t, b.Metadata, n, "no patch was lost: %v", b.Metadata)
}

func TestBotsVersionsAndRestore(t *testing.T) {
	e := newBotsEnv(t, Config{})
	e.must(http.StatusCreated, "POST", "/v1/bots", ariaJSON, "X-Author: alice")
	e.must(http.StatusOK, "PUT", "/v1/bots/aria", `{"name":"Aria 2"}`, "X-Author: bob")

	var vs botVersionsResponse
	require.NoError(t, json.Unmarshal(e.must(http.StatusOK, "GET", "/v1/bots/aria/versions", "").body, &vs))
	require.Len(t, vs.Versions, 2)
	require.Equal(t, botVersionResponse{Version: 1, Author: "alice", CreatedAt: vs.Versions[0].CreatedAt, ETag: `"aria.v1"`}, vs.Versions[0])
	require.Equal(t, "bob", vs.Versions[1].Author)
	require.Equal(t, `"aria.v2"`, vs.Versions[1].ETag)

	v1 := decodeBot(t, e.must(http.StatusOK, "GET", "/v1/bots/aria/versions/1", ""))
	require.Equal(t, "Aria", v1.Name)
	require.Equal(t, 1, v1.Version)
	e.must(http.StatusNotFound, "GET", "/v1/bots/aria/versions/3", "")

	e.must(http.StatusPreconditionFailed, "POST", "/v1/bots/aria/versions/1/restore", "", `If-Match: "aria.v1"`)
	r := e.must(http.StatusOK, "POST", "/v1/bots/aria/versions/1/restore", "", `If-Match: "aria.v2"`, "X-Author: carol")
	v3 := decodeBot(t, r)
	require.Equal(t, 3, v3.Version, "a restore is a new version")
	require.Equal(t, "carol", v3.Author)
	require.Equal(t, "Aria", v3.Name)
	require.Equal(t, v1.Lorebook, v3.Lorebook)
	require.Equal(t, v1.CreatedAt, v3.CreatedAt)
	e.must(http.StatusNotFound, "POST", "/v1/bots/aria/versions/9/restore", "")
	require.NoError(t, json.Unmarshal(e.must(http.StatusOK, "GET", "/v1/bots/aria/versions", "").body, &vs))
	require.Len(t, vs.Versions, 3)
	require.Equal(t, "Aria 2", decodeBot(t, e.must(http.StatusOK, "GET", "/v1/bots/aria/versions/2", "")).Name, "old versions are unchanged")
}

func TestBotsListAndDelete(t *testing.T) {
	e := newBotsEnv(t, Config{})
	for _, id := range []string{"c", "a", "b", "d"} {
		e.must(http.StatusCreated, "POST", "/v1/bots", fmt.Sprintf(`{"id":%q,"name":"Bot %s","tags":["t-%s"]}`, id, id, id))
	}
	var page listBotsResponse
	require.NoError(t, json.Unmarshal(e.must(http.StatusOK, "GET", "/v1/bots?limit=3", "").body, &page))
	require.Equal(t, []string{"a", "b", "c"}, botIDs(page.Bots))
	require.Equal(t, "c", *page.Next, "next, as for conversations and turns")
	require.Equal(t, "c", page.NextAfter, "and its old name")
	page = listBotsResponse{}
	require.NoError(t, json.Unmarshal(e.must(http.StatusOK, "GET", "/v1/bots?limit=3&after=c", "").body, &page))
	require.Equal(t, []string{"d"}, botIDs(page.Bots))
	require.Nil(t, page.Next)
	require.Equal(t, "", page.NextAfter)
	require.NoError(t, json.Unmarshal(e.must(http.StatusOK, "GET", "/v1/bots?q=T-B", "").body, &page))
	require.Equal(t, []string{"b"}, botIDs(page.Bots))
	e.must(http.StatusBadRequest, "GET", "/v1/bots?limit=0", "")

	e.must(http.StatusNoContent, "DELETE", "/v1/bots/b", "")
	e.must(http.StatusNotFound, "GET", "/v1/bots/b", "")
	e.must(http.StatusNotFound, "GET", "/v1/bots/b/versions", "")
	e.must(http.StatusNotFound, "GET", "/v1/bots/b/versions/1", "")
	e.must(http.StatusNotFound, "DELETE", "/v1/bots/b", "")
	require.NoError(t, json.Unmarshal(e.must(http.StatusOK, "GET", "/v1/bots", "").body, &page))
	require.Equal(t, []string{"a", "c", "d"}, botIDs(page.Bots))
}

func botIDs(bs []botResponse) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = b.ID
	}
	return out
}

func TestBotsTenants(t *testing.T) {
	e := newBotsEnv(t, Config{Keys: []Key{{"ka", "acme"}, {"kb", "globex"}}})
	a, b := e.as("ka"), e.as("kb")
	e.must(http.StatusUnauthorized, "GET", "/v1/bots", "")
	r := a.must(http.StatusCreated, "POST", "/v1/bots", ariaJSON)
	require.Equal(t, "acme", decodeBot(t, r).Author, "the author defaults to the tenant")

	b.must(http.StatusNotFound, "GET", "/v1/bots/aria", "")
	b.must(http.StatusNotFound, "PUT", "/v1/bots/aria", `{"name":"x"}`)
	b.must(http.StatusNotFound, "PATCH", "/v1/bots/aria", `{"name":"x"}`)
	b.must(http.StatusNotFound, "GET", "/v1/bots/aria/versions", "")
	b.must(http.StatusNotFound, "GET", "/v1/bots/aria/versions/1", "")
	b.must(http.StatusNotFound, "POST", "/v1/bots/aria/versions/1/restore", "")
	b.must(http.StatusNotFound, "DELETE", "/v1/bots/aria", "")
	list := b.must(http.StatusOK, "GET", "/v1/bots", "").json(t)
	require.Empty(t, list["bots"])
	b.must(http.StatusCreated, "POST", "/v1/bots", ariaJSON) // the same id in another tenant
	require.Equal(t, 1, decodeBot(t, a.must(http.StatusOK, "GET", "/v1/bots/aria", "")).Version)
}

func TestBotsWithoutStore(t *testing.T) {
	e := newEnv(t, Config{})
	code, _ := e.must(http.StatusNotImplemented, "GET", "/v1/bots", "").errorCode(t)
	require.Equal(t, "not_implemented", code)
	e.must(http.StatusNotImplemented, "POST", "/v1/bots", ariaJSON)
}
