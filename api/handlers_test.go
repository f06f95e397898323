package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/memory"
)

func TestConversationLifecycle(t *testing.T) {
	e := newEnv(t, Config{})

	r := e.must(http.StatusCreated, "POST", "/v1/conversations",
		`{"id":"conv-1","bot_id":"bot","user_id":"alice","metadata":{"topic":"tea"}}`)
	got := r.json(t)
	require.Equal(t, "conv-1", got["id"])
	require.Equal(t, "", got["tenant"])
	require.Equal(t, "bot", got["bot_id"])
	require.Equal(t, "alice", got["user_id"])
	require.Equal(t, map[string]any{"topic": "tea"}, got["metadata"])
	require.EqualValues(t, 0, got["last_seq"])
	require.NotEmpty(t, got["created_at"])
	require.NotEmpty(t, r.header.Get("X-Request-ID"))

	got = e.must(http.StatusOK, "GET", "/v1/conversations/conv-1", "").json(t)
	require.Equal(t, "conv-1", got["id"])
	require.Equal(t, map[string]any{"topic": "tea"}, got["metadata"])

	// An existing id is a conflict, and the original is kept.
	r = e.must(http.StatusConflict, "POST", "/v1/conversations", `{"id":"conv-1","bot_id":"other"}`)
	code, msg := r.errorCode(t)
	require.Equal(t, "conflict", code)
	require.Contains(t, msg, `"conv-1"`)
	require.Equal(t, "bot", e.must(http.StatusOK, "GET", "/v1/conversations/conv-1", "").json(t)["bot_id"])

	e.must(http.StatusNoContent, "DELETE", "/v1/conversations/conv-1", "")
	r = e.must(http.StatusNotFound, "GET", "/v1/conversations/conv-1", "")
	code, msg = r.errorCode(t)
	require.Equal(t, "not_found", code)
	require.Contains(t, msg, `conversation "conv-1" not found`)
	e.must(http.StatusNotFound, "DELETE", "/v1/conversations/conv-1", "")
}

func TestCreateConversationGeneratesIDs(t *testing.T) {
	e := newEnv(t, Config{})
	idPattern := regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)
	seen := map[string]bool{}
	for _, body := range []string{"", "{}", `{"user_id":"u"}`} {
		r := e.must(http.StatusCreated, "POST", "/v1/conversations", body)
		id := r.json(t)["id"].(string)
		require.Regexp(t, idPattern, id)
		require.False(t, seen[id], "id %s generated twice", id)
		seen[id] = true
		e.must(http.StatusOK, "GET", "/v1/conversations/"+id, "")
	}
}

func TestCreateConversationRejects(t *testing.T) {
	e := newEnv(t, Config{})
	for _, tc := range []struct {
		name, body, field string
	}{
		{"bad id char", `{"id":"a/b"}`, "id"},
		{"space in id", `{"id":"a b"}`, "id"},
		{"long id", fmt.Sprintf(`{"id":%q}`, strings.Repeat("x", 129)), "id"},
		{"unknown field", `{"id":"x","colour":"red"}`, "colour"},
		{"invalid JSON", `{"id":`, "JSON"},
		{"wrong type", `{"id":5}`, "id"},
		{"metadata not object", `{"metadata":[1]}`, "metadata"},
		{"invalid UTF-8", "{\"user_id\":\"\xff\"}", "UTF-8"},
		{"long bot_id", fmt.Sprintf(`{"bot_id":%q}`, strings.Repeat("b", 257)), "bot_id"},
		{"trailing data", `{"id":"x"} {}`, "after the JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.must(http.StatusBadRequest, "POST", "/v1/conversations", tc.body)
			code, msg := r.errorCode(t)
			require.Equal(t, "invalid_request", code)
			require.Contains(t, msg, tc.field)
		})
	}
	// Nothing was created.
	list := e.must(http.StatusOK, "GET", "/v1/conversations", "").json(t)
	require.Empty(t, list["conversations"])
}

func TestListConversationsPagination(t *testing.T) {
	e := newEnv(t, Config{})
	for i := range 5 {
		user := "u1"
		if i%2 == 1 {
			user = "u2"
		}
		e.must(http.StatusCreated, "POST", "/v1/conversations",
			fmt.Sprintf(`{"id":"c%d","user_id":%q,"bot_id":"b"}`, i, user))
	}
	var ids []string
	after := ""
	pages := 0
	for {
		path := "/v1/conversations?limit=2"
		if after != "" {
			path += "&after=" + after
		}
		var page listConversationsResponse
		require.NoError(t, json.Unmarshal(e.must(http.StatusOK, "GET", path, "").body, &page))
		pages++
		for _, c := range page.Conversations {
			ids = append(ids, c.ID)
		}
		if page.Next == nil {
			break
		}
		after = *page.Next
	}
	require.Equal(t, []string{"c0", "c1", "c2", "c3", "c4"}, ids)
	require.Equal(t, 3, pages)

	// An exact page has no next.
	var page listConversationsResponse
	require.NoError(t, json.Unmarshal(e.must(http.StatusOK, "GET", "/v1/conversations?limit=5", "").body, &page))
	require.Len(t, page.Conversations, 5)
	require.Nil(t, page.Next)
	require.Contains(t, string(e.must(http.StatusOK, "GET", "/v1/conversations?limit=5", "").body), `"next":null`)

	// Filters.
	require.NoError(t, json.Unmarshal(e.must(http.StatusOK, "GET", "/v1/conversations?user_id=u2&bot_id=b", "").body, &page))
	require.Len(t, page.Conversations, 2)
	require.Equal(t, "c1", page.Conversations[0].ID)
	require.Equal(t, "c3", page.Conversations[1].ID)

	for _, q := range []string{"limit=0", "limit=1001", "limit=x", "limit=-1", "after=a%20b", "user_id=%FF", "bot_id=%FE"} {
		r := e.must(http.StatusBadRequest, "GET", "/v1/conversations?"+q, "")
		code, _ := r.errorCode(t)
		require.Equal(t, "invalid_request", code, q)
	}
}

func TestAppendAndReadTurns(t *testing.T) {
	e := newEnv(t, Config{})
	id := e.createConversation("chat")
	r := e.must(http.StatusCreated, "POST", "/v1/conversations/chat/turns", `{"turns":[
		{"role":"user","name":"Alice","content":"Hello there, how are you?","created_at":"2024-05-01T12:00:00+02:00","metadata":{"mood":"happy"}},
		{"role":"assistant","content":"Fine, thanks."}]}`)
	var resp appendTurnsResponse
	require.NoError(t, json.Unmarshal(r.body, &resp))
	require.Len(t, resp.Turns, 2)
	first, second := resp.Turns[0], resp.Turns[1]
	require.EqualValues(t, 1, first.Seq)
	require.EqualValues(t, 2, second.Seq)
	require.Equal(t, memory.RoleUser, first.Role)
	require.Equal(t, "Alice", first.Name)
	require.Equal(t, "Hello there, how are you?", first.Content)
	require.Equal(t, tok.Count("Hello there, how are you?"), first.Tokens)
	require.Positive(t, first.Tokens)
	require.Equal(t, "2024-05-01T10:00:00Z", first.CreatedAt.UTC().Format("2006-01-02T15:04:05Z07:00"))
	require.Equal(t, map[string]any{"mood": "happy"}, first.Metadata)
	require.False(t, second.CreatedAt.IsZero())

	// The response has exactly the contract's fields.
	var raw struct {
		Turns []map[string]json.RawMessage `json:"turns"`
	}
	require.NoError(t, json.Unmarshal(r.body, &raw))
	var keys []string
	for k := range raw.Turns[1] {
		keys = append(keys, k)
	}
	require.ElementsMatch(t, []string{"seq", "role", "name", "content", "created_at", "tokens", "metadata"}, keys)

	got := e.must(http.StatusOK, "GET", "/v1/conversations/"+id+"/turns/1", "")
	var one turnResponse
	require.NoError(t, json.Unmarshal(got.body, &one))
	require.Equal(t, first.Content, one.Content)
	require.Equal(t, first.Tokens, one.Tokens)

	require.EqualValues(t, 2, e.must(http.StatusOK, "GET", "/v1/conversations/chat", "").json(t)["last_seq"])

	e.must(http.StatusNoContent, "DELETE", "/v1/conversations/chat/turns/1", "")
	e.must(http.StatusNotFound, "GET", "/v1/conversations/chat/turns/1", "")
	code, msg := e.must(http.StatusNotFound, "DELETE", "/v1/conversations/chat/turns/1", "").errorCode(t)
	require.Equal(t, "not_found", code)
	require.Contains(t, msg, "turn 1")
	turns := e.turnList("chat")
	require.Len(t, turns, 1)
	require.EqualValues(t, 2, turns[0].Seq)

	// Seqs are never reused after a delete.
	next := e.appendContents("chat", "again")
	require.EqualValues(t, 3, next[0].Seq)

	// Deleting the conversation removes its turns.
	e.must(http.StatusNoContent, "DELETE", "/v1/conversations/chat", "")
	e.must(http.StatusNotFound, "GET", "/v1/conversations/chat/turns", "")
	e.must(http.StatusNotFound, "GET", "/v1/conversations/chat/turns/2", "")
}

func TestListTurnsPagination(t *testing.T) {
	e := newEnv(t, Config{})
	e.createConversation("p")
	var contents []string
	for i := range 7 {
		contents = append(contents, fmt.Sprintf("turn %d", i+1))
	}
	e.appendContents("p", contents...)

	var seqs []int64
	after := int64(0)
	for {
		var page listTurnsResponse
		r := e.must(http.StatusOK, "GET", fmt.Sprintf("/v1/conversations/p/turns?after=%d&limit=3", after), "")
		require.NoError(t, json.Unmarshal(r.body, &page))
		for _, tr := range page.Turns {
			seqs = append(seqs, tr.Seq)
		}
		if page.Next == nil {
			break
		}
		require.Equal(t, page.Turns[len(page.Turns)-1].Seq, *page.Next)
		after = *page.Next
	}
	require.Equal(t, []int64{1, 2, 3, 4, 5, 6, 7}, seqs)

	// Default limit, exact page, past the end.
	var page listTurnsResponse
	require.NoError(t, json.Unmarshal(e.must(http.StatusOK, "GET", "/v1/conversations/p/turns", "").body, &page))
	require.Len(t, page.Turns, 7)
	require.Nil(t, page.Next)
	require.NoError(t, json.Unmarshal(e.must(http.StatusOK, "GET", "/v1/conversations/p/turns?limit=7", "").body, &page))
	require.Nil(t, page.Next)
	r := e.must(http.StatusOK, "GET", "/v1/conversations/p/turns?after=99", "")
	require.JSONEq(t, `{"turns":[],"next":null}`, string(r.body))

	for _, q := range []string{"after=-1", "after=x", "after=1.5", "limit=0", "limit=1001", "limit=ten"} {
		code, msg := e.must(http.StatusBadRequest, "GET", "/v1/conversations/p/turns?"+q, "").errorCode(t)
		require.Equal(t, "invalid_request", code, q)
		require.Contains(t, msg, strings.Split(q, "=")[0], q)
	}
	for _, seq := range []string{"0", "-1", "x"} {
		code, msg := e.must(http.StatusBadRequest, "GET", "/v1/conversations/p/turns/"+seq, "").errorCode(t)
		require.Equal(t, "invalid_request", code)
		require.Contains(t, msg, "seq")
		e.must(http.StatusBadRequest, "DELETE", "/v1/conversations/p/turns/"+seq, "")
	}
	e.must(http.StatusNotFound, "GET", "/v1/conversations/p/turns/8", "")
	e.must(http.StatusNotFound, "GET", "/v1/conversations/nope/turns", "")
	e.must(http.StatusNotFound, "GET", "/v1/conversations/nope/turns/1", "")
	e.must(http.StatusNotFound, "DELETE", "/v1/conversations/nope/turns/1", "")
	e.must(http.StatusBadRequest, "GET", "/v1/conversations/bad%20id/turns", "")
}

func TestAppendRejectsAndChangesNothing(t *testing.T) {
	e := newEnv(t, Config{MaxTurnBytes: 1024, MaxBodyBytes: 64 << 10})
	e.createConversation("c")
	e.appendContents("c", "the only turn")
	good := `{"role":"user","content":"fine"}`
	many := `{"turns":[` + strings.TrimSuffix(strings.Repeat(good+",", memory.MaxAppendTurns+1), ",") + `]}`

	for _, tc := range []struct {
		name    string
		path    string
		body    string
		headers []string
		status  int
		code    string
		inMsg   string
	}{
		{"invalid JSON", "c", `{"turns":[`, nil, 400, "invalid_request", "JSON"},
		{"not an object", "c", `[1,2]`, nil, 400, "invalid_request", "object"},
		{"empty body", "c", ``, nil, 400, "invalid_request", "empty"},
		{"trailing data", "c", `{"turns":[` + good + `]}x`, nil, 400, "invalid_request", "after the JSON"},
		{"unknown top field", "c", `{"turns":[` + good + `],"extra":1}`, nil, 400, "invalid_request", "extra"},
		{"unknown turn field", "c", `{"turns":[{"role":"user","content":"x","mood":"y"}]}`, nil, 400, "invalid_request", "mood"},
		{"no turns", "c", `{"turns":[]}`, nil, 400, "invalid_request", "turns"},
		{"null turns", "c", `{"turns":null}`, nil, 400, "invalid_request", "turns"},
		{"too many turns", "c", many, nil, 400, "invalid_request", "1001"},
		{"missing content", "c", `{"turns":[{"role":"user"}]}`, nil, 400, "invalid_request", "turns[0].content"},
		{"empty content", "c", `{"turns":[` + good + `,{"role":"user","content":""}]}`, nil, 400, "invalid_request", "turns[1].content"},
		{"content not a string", "c", `{"turns":[{"role":"user","content":7}]}`, nil, 400, "invalid_request", "content"},
		{"missing role", "c", `{"turns":[{"content":"x"}]}`, nil, 400, "invalid_request", "turns[0].role"},
		{"unknown role", "c", `{"turns":[` + good + `,{"role":"narrator","content":"x"}]}`, nil, 400, "invalid_request", "turns[1].role"},
		{"bad created_at", "c", `{"turns":[{"role":"user","content":"x","created_at":"yesterday"}]}`, nil, 400, "invalid_request", "turns[0].created_at"},
		{"created_at without zone", "c", `{"turns":[{"role":"user","content":"x","created_at":"2024-05-01T12:00:00"}]}`, nil, 400, "invalid_request", "created_at"},
		{"invalid UTF-8 content", "c", "{\"turns\":[{\"role\":\"user\",\"content\":\"ok \xc3\x28\"}]}", nil, 400, "invalid_request", "UTF-8"},
		{"invalid UTF-8 name", "c", "{\"turns\":[{\"role\":\"user\",\"name\":\"\xff\",\"content\":\"x\"}]}", nil, 400, "invalid_request", "UTF-8"},
		{"long name", "c", fmt.Sprintf(`{"turns":[{"role":"user","name":%q,"content":"x"}]}`, strings.Repeat("n", 257)), nil, 400, "invalid_request", "turns[0].name"},
		{"bad idempotency key", "c", `{"turns":[` + good + `]}`, []string{"Idempotency-Key: has space"}, 400, "invalid_request", "Idempotency-Key"},
		{"bad conversation id", "bad%20id", `{"turns":[` + good + `]}`, nil, 400, "invalid_request", "id"},
		{"long conversation id", strings.Repeat("x", 129), `{"turns":[` + good + `]}`, nil, 400, "invalid_request", "128"},
		{"unknown conversation", "nope", `{"turns":[` + good + `]}`, nil, 404, "not_found", `"nope"`},
		{"turn too large", "c", fmt.Sprintf(`{"turns":[%s,{"role":"user","content":%q}]}`, good, strings.Repeat("é", 513)), nil, 413, "too_large", "turns[1].content"},
		{"body too large", "c", fmt.Sprintf(`{"turns":[{"role":"user","content":%q}]}`, strings.Repeat("x", 70<<10)), nil, 413, "too_large", "limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.must(tc.status, "POST", "/v1/conversations/"+tc.path+"/turns", tc.body, tc.headers...)
			code, msg := r.errorCode(t)
			require.Equal(t, tc.code, code)
			require.Contains(t, msg, tc.inMsg)

			turns := e.turnList("c")
			require.Len(t, turns, 1, "a rejected request wrote something")
			require.Equal(t, "the only turn", turns[0].Content)
			require.EqualValues(t, 1, e.must(http.StatusOK, "GET", "/v1/conversations/c", "").json(t)["last_seq"])
		})
	}
}

// TestBodyLimitWithoutContentLength covers a streamed body over the limit:
// the size is only known while reading.
func TestBodyLimitWithoutContentLength(t *testing.T) {
	e := newEnv(t, Config{MaxBodyBytes: 1 << 10})
	e.createConversation("c")
	body := fmt.Sprintf(`{"turns":[{"role":"user","content":%q}]}`, strings.Repeat("x", 2<<10))
	req, err := http.NewRequest("POST", "/v1/conversations/c/turns", strings.NewReader(body))
	require.NoError(t, err)
	req.ContentLength = -1
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, req)
	require.Equal(t, http.StatusRequestEntityTooLarge, rec.Code, rec.Body.String())
	require.Empty(t, e.turnList("c"))
}

func TestIdempotency(t *testing.T) {
	e := newEnv(t, Config{})
	e.createConversation("c")
	body := `{"turns":[{"role":"user","content":"once"},{"role":"assistant","content":"only once"}]}`

	first := e.must(http.StatusCreated, "POST", "/v1/conversations/c/turns", body, "Idempotency-Key: k-1")
	// Same key, same request written differently: same result.
	again := e.must(http.StatusCreated, "POST", "/v1/conversations/c/turns",
		`{ "turns" : [ {"content":"once","role":"user"}, {"content":"only once", "role":"assistant"} ] }`,
		"Idempotency-Key: k-1")
	require.JSONEq(t, string(first.body), string(again.body))
	turns := e.turnList("c")
	require.Len(t, turns, 2, "a retried append wrote again")
	require.EqualValues(t, 1, turns[0].Seq)

	// Same key, another body: conflict, nothing written.
	r := e.must(http.StatusConflict, "POST", "/v1/conversations/c/turns",
		`{"turns":[{"role":"user","content":"something else"}]}`, "Idempotency-Key: k-1")
	code, msg := r.errorCode(t)
	require.Equal(t, "conflict", code)
	require.Contains(t, msg, "Idempotency-Key")
	require.Len(t, e.turnList("c"), 2)

	// Another key appends; no key appends every time.
	e.must(http.StatusCreated, "POST", "/v1/conversations/c/turns", body, "Idempotency-Key: k-2")
	e.must(http.StatusCreated, "POST", "/v1/conversations/c/turns", body)
	e.must(http.StatusCreated, "POST", "/v1/conversations/c/turns", body)
	require.Len(t, e.turnList("c"), 8)
}

func TestAuthAndTenantIsolation(t *testing.T) {
	e := newEnv(t, Config{Keys: []Key{{"key-a", "tenantA"}, {"key-b", "tenantB"}}})
	a, b := e.as("key-a"), e.as("key-b")

	for _, tc := range []struct {
		name   string
		header []string
	}{
		{"missing", nil},
		{"unknown key", []string{"Authorization: Bearer nope"}},
		{"wrong scheme", []string{"Authorization: Basic a2V5LWE6"}},
		{"empty bearer", []string{"Authorization: Bearer "}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.must(http.StatusUnauthorized, "POST", "/v1/conversations", `{"id":"x"}`, tc.header...)
			code, _ := r.errorCode(t)
			require.Equal(t, "unauthorized", code)
			require.NotEmpty(t, r.header.Get("WWW-Authenticate"))
		})
	}
	e.must(http.StatusUnauthorized, "GET", "/v1/conversations", "")

	require.Equal(t, "tenantA", a.must(http.StatusCreated, "POST", "/v1/conversations", `{"id":"shared"}`).json(t)["tenant"])
	a.appendContents("shared", "A's secret")
	// B may use the same id for its own conversation.
	b.must(http.StatusCreated, "POST", "/v1/conversations", `{"id":"shared"}`)
	b.appendContents("shared", "B's turn")
	a.must(http.StatusCreated, "POST", "/v1/conversations", `{"id":"only-a"}`)
	a.appendContents("only-a", "hidden")

	// B cannot see A's conversation: 404, never 403.
	for _, req := range [][2]string{
		{"GET", "/v1/conversations/only-a"},
		{"GET", "/v1/conversations/only-a/turns"},
		{"GET", "/v1/conversations/only-a/turns/1"},
		{"DELETE", "/v1/conversations/only-a/turns/1"},
		{"DELETE", "/v1/conversations/only-a"},
	} {
		code, _ := b.must(http.StatusNotFound, req[0], req[1], "").errorCode(t)
		require.Equal(t, "not_found", code)
	}
	b.must(http.StatusNotFound, "POST", "/v1/conversations/only-a/turns", `{"turns":[{"role":"user","content":"x"}]}`)

	var page listConversationsResponse
	require.NoError(t, json.Unmarshal(b.must(http.StatusOK, "GET", "/v1/conversations", "").body, &page))
	require.Len(t, page.Conversations, 1)
	require.Equal(t, "shared", page.Conversations[0].ID)
	require.Equal(t, "tenantB", page.Conversations[0].Tenant)

	bt := b.turnList("shared")
	require.Len(t, bt, 1)
	require.Equal(t, "B's turn", bt[0].Content)
	// A's data is untouched by B's attempts.
	at := a.turnList("only-a")
	require.Len(t, at, 1)
	require.Equal(t, "A's secret", a.turnList("shared")[0].Content)

	// Operations routes need no key.
	e.must(http.StatusOK, "GET", "/healthz", "")
	e.must(http.StatusOK, "GET", "/readyz", "")
	e.must(http.StatusOK, "GET", "/metrics", "")
	e.must(http.StatusOK, "GET", "/openapi.json", "")
}

func TestOperationsRoutes(t *testing.T) {
	e := newEnv(t, Config{})
	require.JSONEq(t, `{"status":"ok"}`, string(e.must(http.StatusOK, "GET", "/healthz", "").body))
	require.JSONEq(t, `{"status":"ok"}`, string(e.must(http.StatusOK, "GET", "/readyz", "").body))

	e.createConversation("m")
	e.appendContents("m", "x")
	e.must(http.StatusNotFound, "GET", "/v1/conversations/none", "")
	metrics := string(e.must(http.StatusOK, "GET", "/metrics", "").body)
	for _, want := range []string{
		`longmem_http_requests_total{code="201",method="POST",route="/v1/conversations/:id/turns"} 1`,
		`longmem_http_requests_total{code="404",method="GET",route="/v1/conversations/:id"} 1`,
		`longmem_http_request_duration_seconds_bucket{code="201",method="POST",route="/v1/conversations",le="+Inf"} 1`,
		`longmem_store_duration_seconds_count{op="append_turns",outcome="ok"} 1`,
		`longmem_store_duration_seconds_count{op="get_conversation",outcome="not_found"} 1`,
		`longmem_append_turns_total 1`,
	} {
		require.Contains(t, metrics, want)
	}

	// Unknown routes and methods answer with the error document too, and
	// do not add a label per path.
	code, msg := e.must(http.StatusNotFound, "GET", "/v2/whatever", "").errorCode(t)
	require.Equal(t, "not_found", code)
	require.Contains(t, msg, "/v2/whatever")
	code, _ = e.must(http.StatusMethodNotAllowed, "PUT", "/v1/conversations/m", "").errorCode(t)
	require.Equal(t, "method_not_allowed", code)
	metrics = string(e.must(http.StatusOK, "GET", "/metrics", "").body)
	require.NotContains(t, metrics, "/v2/whatever")

	// Request ids: a client's is kept, a bad one replaced.
	r := e.must(http.StatusOK, "GET", "/healthz", "", "X-Request-ID: abc-123")
	require.Equal(t, "abc-123", r.header.Get("X-Request-ID"))
	r = e.must(http.StatusOK, "GET", "/healthz", "", "X-Request-ID: "+strings.Repeat("z", 200))
	require.Len(t, r.header.Get("X-Request-ID"), 32)

	// A closed store is not ready.
	require.NoError(t, e.store.Close())
	code, _ = e.must(http.StatusServiceUnavailable, "GET", "/readyz", "").errorCode(t)
	require.Equal(t, "unavailable", code)
	e.must(http.StatusOK, "GET", "/healthz", "")
}

// panicTokenizer stands in for a bug below the handlers.
type panicTokenizer struct{}

func (panicTokenizer) Count(string) int { panic("boom") }
func (panicTokenizer) Name() string     { return "panic" }

func TestPanicRecovery(t *testing.T) {
	e := newEnv(t, Config{})
	e.createConversation("c")
	srv, err := New(Config{}, recallDeps(t, Deps{Store: e.store, Tokenizer: panicTokenizer{}}))
	require.NoError(t, err)
	p := &env{t: t, srv: srv, store: e.store}
	r := p.must(http.StatusInternalServerError, "POST", "/v1/conversations/c/turns", `{"turns":[{"role":"user","content":"x"}]}`)
	code, msg := r.errorCode(t)
	require.Equal(t, "internal", code)
	require.Contains(t, msg, r.header.Get("X-Request-ID"))
	require.NotContains(t, msg, "boom")
	p.must(http.StatusOK, "GET", "/healthz", "")
	turns, err := e.store.Turns(context.Background(), "", "c", 0, 0)
	require.NoError(t, err)
	require.Empty(t, turns)
}

func TestDecodeErrorsNameThePath(t *testing.T) {
	e := newEnv(t, Config{})
	id := e.createConversation("p")
	for _, tc := range []struct {
		name, body, want string
	}{
		{"type error in the first turn", `{"turns":[{"role":"user","content":5}]}`, "turns[0].content: got a JSON number"},
		{"type error in the second turn", `{"turns":[{"role":"user","content":"ok"},{"role":"user","content":"x","metadata":"s"}]}`, "turns[1].metadata: got a JSON string"},
		{"object for a string", `{"turns":[{"role":"user","content":"ok"},{"role":"user","content":{"a":[1,{"b":2}]}}]}`, "turns[1].content: got a JSON object"},
		{"turns not an array", `{"turns":{"a":1}}`, "turns: got a JSON object"},
		{"a turn not an object", `{"turns":[{"role":"user","content":"ok"},7]}`, "turns[1]: got a JSON number"},
		{"unknown field in a turn", `{"turns":[{"role":"user","content":"ok"},{"role":"user","content":"x","rôle":"y"}]}`, `turns[1].rôle: is not a field of this request`},
		{"unknown top-level field", `{"turns":[{"role":"user","content":"ok"}],"turn":[]}`, `turn: is not a field`},
		{"unknown field also in metadata", `{"turns":[{"role":"user","content":"ok","metadata":{"colour":1}},{"role":"user","content":"x","colour":"red"}]}`, `colour: is not a field`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.must(http.StatusBadRequest, "POST", "/v1/conversations/"+id+"/turns", tc.body)
			code, msg := r.errorCode(t)
			require.Equal(t, "invalid_request", code)
			require.Contains(t, msg, tc.want)
		})
	}
	require.Empty(t, e.must(http.StatusOK, "GET", "/v1/conversations/"+id+"/turns", "").json(t)["turns"], "nothing was stored")
}
