package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/memory/redisstore/redistest"
)

// TestServeBotsEmbedded: serve's wiring has a bot store, kept in the data
// directory across restarts.
func TestServeBotsEmbedded(t *testing.T) {
	cfg := defaultConfig()
	cfg.Storage.Data = t.TempDir()
	botRoundTrip(t, cfg)
}

// TestServeBotsRedis: with Redis storage the bots live in Redis too.
func TestServeBotsRedis(t *testing.T) {
	cfg := defaultConfig()
	cfg.Storage.Backend = "redis"
	cfg.Storage.Redis.Addrs = []string{redistest.StartServer(t)}
	botRoundTrip(t, cfg)
}

func botRoundTrip(t *testing.T, cfg Config) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	call := func(a *app, method, path, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		a.api.ServeHTTP(rec, req)
		return rec
	}
	a, err := newApp(context.Background(), cfg, logger)
	require.NoError(t, err)
	rec := call(a, "POST", "/v1/bots", `{"id":"aria","name":"Aria"}`)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	rec = call(a, "PUT", "/v1/bots/aria", `{"name":"Aria 2"}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.NoError(t, a.Close())
	a, err = newApp(context.Background(), cfg, logger)
	require.NoError(t, err)
	defer a.Close()
	rec = call(a, "GET", "/v1/bots/aria", "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Equal(t, `"aria.v2"`, rec.Header().Get("ETag"))
}
