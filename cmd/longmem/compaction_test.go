package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/compaction"
)

func TestBackendAndCompactionConfig(t *testing.T) {
	env := map[string]string{
		"LONGMEM_BACKEND_URL":   "http://vllm:8000/v1",
		"LONGMEM_BACKEND_MODEL": "hunyuan-a13b",
		"LONGMEM_BACKEND_KEY":   "sk-very-secret",
		"LONGMEM_SUMMARIZER":    "llm",
	}
	code, out, errOut := runCmd(t, env, "serve", "--print-config")
	require.Equal(t, 0, code, errOut)
	require.NotContains(t, out, "sk-very-secret")
	cfg := printConfig(t, env, "--backend-model", "from-flag", "--backend-timeout", "45s")
	require.Equal(t, "http://vllm:8000/v1", cfg.Backend.BaseURL)
	require.Equal(t, "from-flag", cfg.Backend.Model, "flag over env")
	require.Equal(t, 45*time.Second, cfg.Backend.Timeout)
	require.Equal(t, "llm", cfg.Compaction.Summarizer)

	cfg = printConfig(t, map[string]string{"LONGMEM_COMPACTION_KEEP_RECENT_TURNS": "40"}, "--summarizer", "extractive")
	require.Equal(t, 40, cfg.Compaction.KeepRecentTurns)
	require.Equal(t, "extractive", cfg.Compaction.Summarizer)

	code, _, errOut = runCmd(t, map[string]string{"LONGMEM_BACKEND_TIMEOUT": "soon"}, "serve", "--print-config")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "LONGMEM_BACKEND_TIMEOUT")
}

// TestBulkImportIsCoveredBySummaries ingests a 600-turn conversation at
// full speed through a served app (embedded storage, extractive
// summarizer, default compaction settings) and checks the background
// worker covers every turn older than the last 100 at level 0, and never
// the recent window. Unit tests are not timed: bulkBound only ends a
// worker that never gets there. The speed — the target is 30 s
// from the end of the import — is BenchmarkBulkImportCovered's
// s-to-cover/op ("go test -run '^$' -bench BulkImportCovered -benchtime 1x
// ./cmd/longmem/").
const bulkBound = 2 * time.Minute

func TestBulkImportIsCoveredBySummaries(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the background worker's quiet timer")
	}
	metrics := bulkImport(t)
	require.Contains(t, metrics, `longmem_compaction_summaries_written_total{level="0",producer="extractive"}`)
	require.Contains(t, metrics, "longmem_compaction_summarize_duration_seconds_count")
}

// BenchmarkBulkImportCovered reports how long after a 600-turn import the
// worker has covered every turn older than the recent window
// (s-to-cover/op; the target is 30) and how long the import took
// (s-import/op).
func BenchmarkBulkImportCovered(b *testing.B) {
	for b.Loop() {
		bulkImport(b)
	}
}

// bulkImport runs the import and waits for the coverage; it reports the
// times as benchmark metrics (or logs them) and returns /metrics.
func bulkImport(t testing.TB) string {
	cfg := defaultConfig()
	cfg.Storage.Data = t.TempDir()
	base, stop := startApp(t, cfg, io.Discard)
	client := &http.Client{}
	defer client.CloseIdleConnections()
	post := func(path, body string) {
		resp, err := client.Post(base+path, "application/json", strings.NewReader(body))
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Less(t, resp.StatusCode, 300, "%s: %s", path, b)
	}
	post("/v1/conversations", `{"id":"bulk"}`)

	people := []string{"Odile", "Bram"}
	topics := []string{"the evening ceramics course", "a canoe trip on the lake", "the allotment's new shed", "the choir's spring concert", "a sketch of the harbour", "the twins' chess club"}
	start := time.Now()
	const total, batch = 600, 50
	for i := 0; i < total; i += batch {
		var turns []map[string]any
		for j := i; j < i+batch; j++ {
			turns = append(turns, map[string]any{
				"role": []string{"user", "assistant"}[j%2], "name": people[j%2],
				"content": fmt.Sprintf("On day %d I told you about %s; it made me feel %s, and I promised to call on 1%d May.", j/20+1, topics[j%len(topics)], []string{"happy", "nervous", "proud"}[j%3], j%9),
			})
		}
		b, err := json.Marshal(map[string]any{"turns": turns})
		require.NoError(t, err)
		post("/v1/conversations/bulk/turns", string(b))
	}
	importEnd := time.Now()
	ingested := importEnd.Sub(start)

	covered := func() int64 {
		resp, err := client.Get(base + "/v1/conversations/bulk/summaries")
		require.NoError(t, err)
		defer resp.Body.Close()
		var out struct {
			Summaries []struct {
				Level   int   `json:"level"`
				FromSeq int64 `json:"from_seq"`
				ToSeq   int64 `json:"to_seq"`
			} `json:"summaries"`
		}
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		next := int64(1)
		for _, s := range out.Summaries {
			if s.Level == 0 && s.FromSeq == next {
				next = s.ToSeq + 1
			}
		}
		return next - 1
	}
	const want = total - compaction.DefaultKeepRecentTurns
	var took time.Duration
	for {
		c := covered()
		took = time.Since(importEnd)
		if c >= want {
			break
		}
		if took > bulkBound {
			require.Failf(t, "bulk import not covered",
				"turns 1..%d still not covered %s after the import ended (covered through %d)",
				want, took.Round(100*time.Millisecond), c)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if b, ok := t.(*testing.B); ok {
		b.ReportMetric(took.Seconds(), "s-to-cover/op")
		b.ReportMetric(ingested.Seconds(), "s-import/op")
	} else {
		t.Logf("%d turns ingested in %s; turns 1..%d covered %s after the import ended", total, ingested.Round(time.Millisecond), want, took.Round(100*time.Millisecond))
	}
	require.Equal(t, int64(want), covered(), "the recent window is never folded")

	resp, err := client.Get(base + "/metrics")
	require.NoError(t, err)
	var m bytes.Buffer
	_, _ = m.ReadFrom(resp.Body)
	resp.Body.Close()
	client.CloseIdleConnections()
	stop()
	return m.String()
}

// TestServeSummarizesWithTheBackend configures an inference backend (an
// httptest server speaking the OpenAI wire format) and checks that
// …/compact writes summaries with it, and falls back to the extractive
// summarizer when it fails.
func TestServeSummarizesWithTheBackend(t *testing.T) {
	var calls, fail atomic.Int32
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		var req struct {
			Model    string `json:"model"`
			Messages []struct{ Role, Content string }
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || r.URL.Path != "/v1/chat/completions" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		if fail.Load() > 0 {
			http.Error(w, `{"error":{"message":"overloaded"}}`, http.StatusBadRequest)
			return
		}
		summary := fmt.Sprintf(`{"summary":"Ines (model %s) talked about pottery."}`, req.Model)
		b, _ := json.Marshal(map[string]any{
			"id": "x", "object": "chat.completion", "model": req.Model,
			"choices": []any{map[string]any{"index": 0, "finish_reason": "stop",
				"message": map[string]any{"role": "assistant", "content": summary}}},
			"usage": map[string]any{"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
		})
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	}))
	defer backend.Close()

	cfg := defaultConfig()
	cfg.Storage.Data = t.TempDir()
	cfg.Backend.BaseURL = backend.URL
	cfg.Backend.Model = "test-model"
	cfg.Compaction.KeepRecentTurns = 10
	a, err := newApp(context.Background(), cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer a.Close()
	call := func(method, path, body string) []byte {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		a.api.ServeHTTP(rec, req)
		require.Less(t, rec.Code, 300, "%s: %s", path, rec.Body)
		return rec.Body.Bytes()
	}
	call("POST", "/v1/conversations", `{"id":"c"}`)
	appendTurns := func() {
		var turns []map[string]any
		for i := range 40 {
			turns = append(turns, map[string]any{"role": "user", "content": fmt.Sprintf("Ines talks about pottery, lesson %d, with many words to fold.", i)})
		}
		b, _ := json.Marshal(map[string]any{"turns": turns})
		call("POST", "/v1/conversations/c/turns", string(b))
	}
	appendTurns()
	var out struct {
		Written []struct{ Producer, Content string } `json:"written"`
	}
	require.NoError(t, json.Unmarshal(call("POST", "/v1/conversations/c/compact", ""), &out))
	require.NotEmpty(t, out.Written)
	require.Equal(t, "llm:test-model", out.Written[0].Producer)
	require.Contains(t, out.Written[0].Content, "model test-model")
	require.Positive(t, calls.Load())

	fail.Store(1)
	appendTurns()
	require.NoError(t, json.Unmarshal(call("POST", "/v1/conversations/c/compact", ""), &out))
	require.NotEmpty(t, out.Written)
	require.Equal(t, "extractive", out.Written[0].Producer, "a failing backend falls back to the extractive summarizer")
}
