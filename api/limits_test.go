package api

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/memory/embedded"
)

func TestBuckets(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b := newBuckets(2, 4) // 2 tokens/s, 4 at most
	for _, step := range []struct {
		at     time.Duration
		n      float64
		names  []string
		ok     bool
		waitAt time.Duration // the wait when refused
	}{
		{0, 4, []string{"a"}, true, 0},                                                 // a full bucket gives its burst
		{0, 1, []string{"a"}, false, 500 * time.Millisecond},                           // empty: one token in 0.5 s
		{500 * time.Millisecond, 1, []string{"a"}, true, 0},                            // refilled
		{500 * time.Millisecond, 1, []string{"a", "b"}, false, 500 * time.Millisecond}, // b is full, a is not: neither gives
		{500 * time.Millisecond, 1, []string{"b"}, true, 0},                            // b was not charged by the refusal
		{10 * time.Second, 10, []string{"c"}, true, 0},                                 // more than the burst passes from a full bucket…
		{10 * time.Second, 1, []string{"c"}, false, 3500 * time.Millisecond},           // …and leaves it in debt (-6)
	} {
		wait, ok := b.take(t0.Add(step.at), step.n, step.names...)
		require.Equal(t, step.ok, ok, "%+v", step)
		require.Equal(t, step.waitAt, wait, "%+v", step)
	}
	var unlimited *buckets
	_, ok := unlimited.take(t0, 1e9, "x")
	require.True(t, ok)
}

// limitedEnv is a server with API keys and limits on a clock the test
// moves.
func limitedEnv(t *testing.T, l Limits) (*env, *time.Time) {
	t.Helper()
	store, err := embedded.Open(embedded.Config{Dir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, store.Close()) })
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cfg := Config{Keys: []Key{{Key: "ka", Tenant: "a"}, {Key: "ka2", Tenant: "a"}, {Key: "kb", Tenant: "b"}}, Limits: l}
	srv, err := New(cfg, recallDeps(t, Deps{Store: store, Tokenizer: tok, Registerer: prometheus.NewRegistry(), Clock: func() time.Time { return now }}))
	require.NoError(t, err)
	return &env{t: t, srv: srv, store: store}, &now
}

// TestRequestRateLimit: 429 with Retry-After past a key's burst; the
// tenant's bucket holds all its keys; another tenant is not affected;
// time refills.
func TestRequestRateLimit(t *testing.T) {
	e, now := limitedEnv(t, Limits{RequestsPerSecond: 1, RequestsBurst: 2})
	a, a2, b := e.as("ka"), e.as("ka2"), e.as("kb")
	a.must(http.StatusOK, "GET", "/v1/conversations", "")
	a.must(http.StatusOK, "GET", "/v1/conversations", "")
	r := a.must(http.StatusTooManyRequests, "GET", "/v1/conversations", "")
	code, _ := r.errorCode(t)
	require.Equal(t, "rate_limited", code)
	require.Equal(t, "1", r.header.Get("Retry-After"))
	a2.must(http.StatusTooManyRequests, "GET", "/v1/conversations", "") // same tenant
	b.must(http.StatusOK, "GET", "/v1/conversations", "")
	e.must(http.StatusOK, "GET", "/healthz", "") // operations are not limited
	*now = now.Add(time.Second)
	a.must(http.StatusOK, "GET", "/v1/conversations", "")
	require.Contains(t, string(e.must(http.StatusOK, "GET", "/metrics", "").body), `longmem_rate_limited_total{limit="requests"} 2`)
}

// TestTurnRateLimit: turns count one by one; a batch over the burst
// passes once and leaves the bucket in debt.
func TestTurnRateLimit(t *testing.T) {
	e, now := limitedEnv(t, Limits{TurnsPerSecond: 2, TurnsBurst: 2})
	a := e.as("ka")
	a.must(http.StatusCreated, "POST", "/v1/conversations", `{"id":"c"}`)
	three := `{"turns":[{"role":"user","content":"one"},{"role":"user","content":"two"},{"role":"user","content":"three"}]}`
	a.must(http.StatusCreated, "POST", "/v1/conversations/c/turns", three)
	r := a.must(http.StatusTooManyRequests, "POST", "/v1/conversations/c/turns", `{"turns":[{"role":"user","content":"four"}]}`)
	require.Equal(t, "1", r.header.Get("Retry-After"))
	require.Len(t, a.turnList("c"), 3, "the refused append stored nothing")
	*now = now.Add(time.Second)
	a.must(http.StatusCreated, "POST", "/v1/conversations/c/turns", `{"turns":[{"role":"user","content":"four"}]}`)
}

// TestBoundedConcurrency: with every slot taken, a request waits the queue
// timeout and gets 503 overloaded with Retry-After; a client that leaves
// while queued gets its own error.
func TestBoundedConcurrency(t *testing.T) {
	e, _ := limitedEnv(t, Limits{MaxContext: 1, QueueTimeout: 20 * time.Millisecond})
	s := e.srv
	release := make(chan struct{})
	held := make(chan struct{})
	blocking := s.boundContext(func(c echo.Context) error {
		close(held)
		<-release
		return nil
	})
	ctxOf := func(ctx context.Context) echo.Context {
		req := httptest.NewRequestWithContext(ctx, "POST", "/", nil)
		return s.e.NewContext(req, httptest.NewRecorder())
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		require.NoError(t, blocking(ctxOf(context.Background())))
	}()
	<-held
	next := s.boundContext(func(echo.Context) error { return nil })
	err := next(ctxOf(context.Background()))
	var oe *overloadedError
	require.True(t, errors.As(err, &oe), "%v", err)
	status, code, _ := classify(err)
	require.Equal(t, http.StatusServiceUnavailable, status)
	require.Equal(t, "overloaded", code)

	gone, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, next(ctxOf(gone)), context.Canceled)

	close(release)
	wg.Wait()
	require.NoError(t, next(ctxOf(context.Background())), "the slot is free again")
}

func TestLimitsValidate(t *testing.T) {
	require.NoError(t, Limits{}.Validate())
	require.Error(t, Limits{RequestsPerSecond: -1}.Validate())
	require.Error(t, Limits{TurnsBurst: -1}.Validate())
	require.Error(t, Config{Limits: Limits{QueueTimeout: -time.Second}}.Validate())
}
