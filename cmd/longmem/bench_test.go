package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/memory/redisstore/redistest"
)

// TestBenchEmbedded and TestBenchRedis run `longmem bench --verify` for a
// second against an in-process server on each storage: every request is
// answered, and every acknowledged append is stored exactly once.
func TestBenchEmbedded(t *testing.T) { benchCommand(t, "--storage", "embedded") }

func TestBenchRedis(t *testing.T) {
	benchCommand(t, "--storage", "redis", "--redis-addrs", redistest.StartServer(t, "--appendonly", "yes", "--appendfsync", "always"))
}

func benchCommand(t *testing.T, args ...string) {
	args = append([]string{"bench", "--clients", "4", "--duration", "1s", "--requests", "2000", "--verify"}, args...)
	code, out, errOut := runCmd(t, nil, args...)
	require.Equal(t, 0, code, "%s\n%s", out, errOut)
	require.Contains(t, out, "verify: ok, every acknowledged turn present exactly once")
	require.Regexp(t, `append\s+[1-9]\d*\s`, out)
	require.Regexp(t, `context\s+[1-9]\d*\s`, out)
	require.NotContains(t, out, "transport")
	require.Contains(t, out, "server RSS:")
}

// TestBenchVerifyFindsDuplicates: verify is not a formality — a turn
// stored twice, or an acknowledged one missing, fails it.
func TestBenchVerifyFindsDuplicates(t *testing.T) {
	cfg := defaultConfig()
	cfg.Storage.Data = t.TempDir()
	var logs bytes.Buffer
	base, stop := startApp(t, cfg, &logs)
	defer stop()
	b := &benchRun{o: benchOptions{server: base, clients: 2, duration: 300 * time.Millisecond, maxRequests: 40,
		mix: map[string]int{"append": 1}, seed: 1}, client: &http.Client{Timeout: benchTimeout}, run: "t1"}
	res := b.drive(context.Background())
	require.Positive(t, res.acked)
	require.NoError(t, b.verify(context.Background()))

	conv := b.conv(0)
	dup := b.acked[conv][0]
	body, err := json.Marshal(map[string]any{"turns": []map[string]string{{"role": "user", "content": dup}}})
	require.NoError(t, err)
	status, _, err := b.do(context.Background(), "POST", "/v1/conversations/"+conv+"/turns", string(body), "")
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, status)
	err = b.verify(context.Background())
	require.ErrorContains(t, err, "there 2 times")

	b.acked[conv] = append(b.acked[conv], "bench t1-0-999999: never sent")
	require.ErrorContains(t, b.verify(context.Background()), "there 0 times")
}

func TestBenchFlags(t *testing.T) {
	for _, bad := range [][]string{
		{"--server", "http://10.0.0.7:8080"},
		{"--server", "http://example.com"},
		{"--clients", "0"},
		{"--clients", "5000"},
		{"--duration", "11m"},
		{"--mix", "append=1,delete=1"},
		{"--mix", "append=0"},
		{"--storage", "redis", "--redis-addrs", "10.1.1.1:6379"},
	} {
		code, _, errOut := runCmd(t, nil, append([]string{"bench"}, bad...)...)
		require.Equal(t, 2, code, "%v: %s", bad, errOut)
		require.True(t, strings.Contains(errOut, "longmem bench:"), errOut)
	}
}
