package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMaxIndexBytesConfig(t *testing.T) {
	require.Zero(t, printConfig(t, nil).Recall.MaxIndexBytes, "default: a share of memory, chosen at start")
	file := writeFile(t, "longmem.yaml", "recall:\n  max_index_bytes: 1000000\n")
	require.EqualValues(t, 1_000_000, printConfig(t, nil, "--config", file).Recall.MaxIndexBytes)
	env := map[string]string{"LONGMEM_RECALL_MAX_INDEX_BYTES": "2000000"}
	require.EqualValues(t, 2_000_000, printConfig(t, env, "--config", file).Recall.MaxIndexBytes)
	require.EqualValues(t, 3_000_000, printConfig(t, env, "--config", file, "--max-index-bytes", "3000000").Recall.MaxIndexBytes)

	require.EqualValues(t, 5, indexBytes(RecallConfig{MaxIndexBytes: 5}))
	require.Zero(t, indexBytes(RecallConfig{MaxIndexBytes: -1}), "< 0: no bound")
	def := indexBytes(RecallConfig{})
	require.Positive(t, def)
	require.Equal(t, availableMemory()/indexMemoryShare, def)
}

// metricValue reads one unlabelled sample from a Prometheus text page.
func metricValue(t *testing.T, page, name string) float64 {
	t.Helper()
	for _, line := range strings.Split(page, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			require.NoError(t, err, line)
			return f
		}
	}
	require.Failf(t, "metric missing", "%s not in /metrics", name)
	return 0
}

// TestServeIndexByteBound serves with a byte bound that holds about two
// of six conversations: /context on each evicts the least recently used,
// /metrics shows bytes, conversations, evictions and rebuilds, and an
// evicted conversation is rebuilt from the store on its next /context.
func TestServeIndexByteBound(t *testing.T) {
	cfg := defaultConfig()
	cfg.Storage.Data = t.TempDir()
	const bound = 120_000
	cfg.Recall.MaxIndexBytes = bound
	base, stop := startApp(t, cfg, io.Discard)
	defer stop()
	client := &http.Client{}
	defer client.CloseIdleConnections()
	post := func(path, body string) string {
		t.Helper()
		resp, err := client.Post(base+path, "application/json", strings.NewReader(body))
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		require.Less(t, resp.StatusCode, 300, "%s: %s", path, b)
		return string(b)
	}
	metrics := func() string {
		t.Helper()
		resp, err := client.Get(base + "/metrics")
		require.NoError(t, err)
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return b.String()
	}
	const convs, turns = 6, 150
	for c := range convs {
		post("/v1/conversations", fmt.Sprintf(`{"id":"c%d"}`, c))
		var sb strings.Builder
		sb.WriteString(`{"turns":[`)
		for i := range turns {
			if i > 0 {
				sb.WriteString(",")
			}
			fmt.Fprintf(&sb, `{"role":"user","content":"Day %d of conversation %d: the lighthouse keeper counted %d gulls and mended net number %d."}`, i, c, i*3+c, i+c)
		}
		sb.WriteString("]}")
		post(fmt.Sprintf("/v1/conversations/c%d/turns", c), sb.String())
		post(fmt.Sprintf("/v1/conversations/c%d/context", c), `{"message":{"role":"user","content":"How many gulls on day 3?"},"budget_tokens":4000}`)
	}
	m := metrics()
	held := metricValue(t, m, "longmem_index_conversations")
	require.GreaterOrEqual(t, held, 1.0)
	require.Less(t, held, float64(convs), "the bound evicted some")
	require.LessOrEqual(t, metricValue(t, m, "longmem_index_bytes"), float64(bound))
	require.Equal(t, float64(bound), metricValue(t, m, "longmem_index_max_bytes"))
	evicted := metricValue(t, m, "longmem_index_evictions_total")
	require.Equal(t, float64(convs)-held, evicted)
	rebuilds := metricValue(t, m, "longmem_index_rebuilds_total")
	require.GreaterOrEqual(t, rebuilds, float64(convs))

	// c0 was evicted: its next context rebuilds it and still recalls its
	// oldest turns.
	out := post("/v1/conversations/c0/context", `{"message":{"role":"user","content":"How many gulls did the keeper count on day 3?"},"budget_tokens":4000}`)
	require.Contains(t, out, "Day 3 of conversation 0")
	require.Greater(t, metricValue(t, metrics(), "longmem_index_rebuilds_total"), rebuilds)
}
