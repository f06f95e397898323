package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/memory"
	"github.com/longmem/longmem/memory/embedded"
	"github.com/longmem/longmem/memory/embedded/disktest"
	"github.com/longmem/longmem/memory/redisstore"
	"github.com/longmem/longmem/memory/redisstore/redistest"
)

// newStoreEnv is newEnv over a given store.
func newStoreEnv(t testing.TB, store memory.Store) *env {
	t.Helper()
	srv, err := New(Config{}, recallDeps(t, Deps{Store: store, Tokenizer: tok, Registerer: prometheus.NewRegistry()}))
	require.NoError(t, err)
	return &env{t: t, srv: srv}
}

// requireUnavailable checks r is a 503 "unavailable" with Retry-After and
// a message that names no address or file.
func requireUnavailable(t *testing.T, r response, secret string) {
	t.Helper()
	require.Equal(t, http.StatusServiceUnavailable, r.status, "%s", r.body)
	code, msg := r.errorCode(t)
	require.Equal(t, "unavailable", code)
	require.Equal(t, "2", r.header.Get("Retry-After"))
	require.NotContains(t, string(r.body), secret)
	require.NotContains(t, msg, "dial")
}

// TestRedisOutage stops, then kills, a real redis-server under the API:
// every storage route answers 503 "unavailable" with Retry-After, never
// 500, and /readyz does not show the Redis address.
func TestRedisOutage(t *testing.T) {
	srv := redistest.StartProcess(t)
	store, err := redisstore.New(t.Context(), redisstore.Config{Addrs: []string{srv.Addr}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	e := newStoreEnv(t, store)
	e.createConversation("porch")
	e.appendContents("porch", "The porch light has a moth problem.")

	srv.Signal(t, syscall.SIGSTOP)
	requireUnavailable(t, e.do("POST", "/v1/conversations/porch/turns", `{"turns":[{"role":"user","content":"Still there?"}]}`), srv.Addr)
	requireUnavailable(t, e.do("GET", "/readyz", ""), srv.Addr)
	srv.Signal(t, syscall.SIGCONT)
	e.must(http.StatusOK, "GET", "/readyz", "")

	srv.Signal(t, syscall.SIGKILL)
	for _, rq := range []struct{ method, path, body string }{
		{"POST", "/v1/conversations", `{"id":"shed"}`},
		{"GET", "/v1/conversations", ""},
		{"GET", "/v1/conversations/porch", ""},
		{"GET", "/v1/conversations/porch/turns", ""},
		{"GET", "/v1/conversations/porch/turns/1", ""},
		{"POST", "/v1/conversations/porch/turns", `{"turns":[{"role":"user","content":"Hello?"}]}`},
		{"POST", "/v1/conversations/porch/context", `{"message":{"content":"moths"},"budget_tokens":200}`},
		{"DELETE", "/v1/conversations/porch/turns/1", ""},
		{"GET", "/readyz", ""},
	} {
		t.Run(rq.method+" "+rq.path, func(t *testing.T) {
			requireUnavailable(t, e.do(rq.method, rq.path, rq.body), srv.Addr)
		})
	}
	e.must(http.StatusOK, "GET", "/healthz", "")
}

// TestDiskFull fills a real (tmpfs) disk under the embedded store: the
// append that does not fit answers 503 with Retry-After, /readyz turns 503
// until space is freed, and nothing acknowledged is lost.
func TestDiskFull(t *testing.T) {
	dir := disktest.Small(t, 1<<20)
	filler := disktest.Fill(t, dir, 256<<10)
	store, err := embedded.Open(embedded.Config{Dir: dir})
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	e := newStoreEnv(t, store)
	e.createConversation("cellar")
	e.must(http.StatusOK, "GET", "/readyz", "")

	body := `{"turns":[{"role":"user","content":"` + strings.Repeat("The cellar smells of apples and damp stone. ", 90) + `"}]}`
	acked := 0
	var last response
	for i := 0; i < 1000; i++ {
		last = e.do("POST", "/v1/conversations/cellar/turns", body)
		if last.status != http.StatusCreated {
			break
		}
		acked++
	}
	requireUnavailable(t, last, dir)
	requireUnavailable(t, e.do("GET", "/readyz", ""), dir)
	require.Len(t, e.turnList("cellar"), acked, "every acknowledged turn, once")

	require.NoError(t, os.Remove(filler))
	e.must(http.StatusOK, "GET", "/readyz", "")
	e.must(http.StatusCreated, "POST", "/v1/conversations/cellar/turns", body)
	require.Len(t, e.turnList("cellar"), acked+1)
}

// TestClientGone: a request whose client has gone away is answered 499
// (written to nobody, counted as such), never 500, and stores nothing.
func TestClientGone(t *testing.T) {
	e := newEnv(t, Config{})
	e.createConversation("lantern")
	body := `{"turns":[{"role":"user","content":"` + strings.Repeat("Lantern oil is cheaper in winter. ", 500) + `"}]}`
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequestWithContext(ctx, "POST", "/v1/conversations/lantern/turns", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, req)
	require.Equal(t, statusClientClosed, rec.Code, "%s", rec.Body)
	require.Empty(t, e.turnList("lantern"))
}

// TestClassifyTimeouts: a deadline is 504, a cancel 499, storage outages
// 503 — never 500.
func TestClassifyTimeouts(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
		code   string
	}{
		{fmt.Errorf("embedded: list: %w", context.DeadlineExceeded), http.StatusGatewayTimeout, "timeout"},
		{fmt.Errorf("embedded: list: %w", context.Canceled), statusClientClosed, "canceled"},
		{memory.Unavailable(errors.New("dial tcp 10.0.0.7:6379: connect: connection refused")), http.StatusServiceUnavailable, "unavailable"},
		{conversationErr(memory.Unavailable(context.DeadlineExceeded), "x"), http.StatusServiceUnavailable, "unavailable"},
	} {
		status, code, msg := classify(tc.err)
		require.Equal(t, tc.status, status, "%v", tc.err)
		require.Equal(t, tc.code, code)
		require.NotContains(t, msg, "10.0.0.7")
	}
}
