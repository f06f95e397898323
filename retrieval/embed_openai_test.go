package retrieval

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/internal/openaihttp"
)

// openAIFakeServer speaks the OpenAI embeddings wire format. Each text is
// embedded as [len(text), 1, 0] (unnormalised); data come back in reverse
// index order to exercise sorting.
type openAIFakeServer struct {
	mu       sync.Mutex
	requests [][]string
	auth     []string
	paths    []string
	models   []string
	// fail, when set, answers request n (0-based) with a status and body;
	// status 0 means answer normally.
	fail func(n int) (status int, body string)
	dim  int
}

func (f *openAIFakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Model string   `json:"model"`
		Input []string `json:"input"`
	}
	if r.Method != http.MethodPost || json.NewDecoder(r.Body).Decode(&req) != nil {
		http.Error(w, `{"error":{"message":"bad request shape"}}`, http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	n := len(f.requests)
	f.requests = append(f.requests, req.Input)
	f.auth = append(f.auth, r.Header.Get("Authorization"))
	f.paths = append(f.paths, r.URL.Path)
	f.models = append(f.models, req.Model)
	f.mu.Unlock()
	if f.fail != nil {
		if status, body := f.fail(n); status != 0 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			fmt.Fprint(w, body)
			return
		}
	}
	type item struct {
		Object    string    `json:"object"`
		Index     int       `json:"index"`
		Embedding []float32 `json:"embedding"`
	}
	var data []item
	for i := len(req.Input) - 1; i >= 0; i-- {
		v := make([]float32, 3, max(3, f.dim))
		v[0], v[1] = float32(len(req.Input[i])), 1
		v = v[:cap(v)]
		data = append(data, item{Object: "embedding", Index: i, Embedding: v})
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data, "model": req.Model})
}

func (f *openAIFakeServer) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.requests)
}

// openAITestSleep records backoff waits without waiting.
type openAITestSleep struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *openAITestSleep) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	return ctx.Err()
}

func openAITestEmbedder(t *testing.T, srv *httptest.Server, cfg OpenAIConfig) (*OpenAIEmbedder, *openAITestSleep) {
	t.Helper()
	if cfg.BaseURL == "" {
		cfg.BaseURL = srv.URL
	}
	ns := &openAITestSleep{}
	e, err := NewOpenAIEmbedder(cfg, srv.Client(), ns.sleep)
	require.NoError(t, err)
	return e, ns
}

func embedTestUnitNorm(t *testing.T, v []float32) {
	t.Helper()
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	require.InDelta(t, 1, math.Sqrt(ss), 1e-5)
}

func TestOpenAIEmbedBatchingAndOrder(t *testing.T) {
	fake := &openAIFakeServer{}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	e, _ := openAITestEmbedder(t, srv, OpenAIConfig{Model: "bge-m3", APIKey: "sk-secret", BatchSize: 2})

	texts := []string{"a", "bb", "ccc", "dddd", "eeeee"}
	vecs, err := e.Embed(context.Background(), texts)
	require.NoError(t, err)
	require.Len(t, vecs, len(texts))
	for i, v := range vecs {
		require.Len(t, v, 3)
		embedTestUnitNorm(t, v)
		// v ∝ [len, 1, 0]: v[0]/v[1] recovers the text's length.
		require.InDelta(t, float64(len(texts[i])), float64(v[0]/v[1]), 1e-4, "vector %d out of order", i)
	}
	require.Equal(t, [][]string{{"a", "bb"}, {"ccc", "dddd"}, {"eeeee"}}, fake.requests)
	for i := range fake.requests {
		require.Equal(t, "Bearer sk-secret", fake.auth[i])
		require.Equal(t, "/v1/embeddings", fake.paths[i])
		require.Equal(t, "bge-m3", fake.models[i])
	}

	vecs, err = e.Embed(context.Background(), nil)
	require.NoError(t, err)
	require.Empty(t, vecs)
	require.Equal(t, 3, fake.count(), "no request for no texts")
}

func TestOpenAIBaseURLForms(t *testing.T) {
	for _, base := range []string{"", "/", "/v1", "/v1/"} {
		t.Run(base, func(t *testing.T) {
			fake := &openAIFakeServer{}
			srv := httptest.NewServer(fake)
			defer srv.Close()
			e, _ := openAITestEmbedder(t, srv, OpenAIConfig{BaseURL: srv.URL + base})
			_, err := e.Embed(context.Background(), []string{"x"})
			require.NoError(t, err)
			require.Equal(t, []string{"/v1/embeddings"}, fake.paths)
			require.Equal(t, []string{""}, fake.auth, "no key, no Authorization header")
		})
	}
	require.Equal(t, "https://api.example.com/v1/embeddings", openaihttp.Endpoint("https://api.example.com/v1", "embeddings"))
	require.Equal(t, "http://h:8080/openai/v1/embeddings", openaihttp.Endpoint("http://h:8080/openai/", "embeddings"))
}

func TestOpenAIBlankTexts(t *testing.T) {
	fake := &openAIFakeServer{}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	e, _ := openAITestEmbedder(t, srv, OpenAIConfig{})
	vecs, err := e.Embed(context.Background(), []string{"", "hello", "  "})
	require.NoError(t, err)
	require.Equal(t, [][]string{{"hello"}}, fake.requests, "blank texts are not sent")
	require.Equal(t, []float32{0, 0, 0}, vecs[0])
	require.Equal(t, []float32{0, 0, 0}, vecs[2])
	embedTestUnitNorm(t, vecs[1])
}

func TestOpenAIRetriesThenSucceeds(t *testing.T) {
	fake := &openAIFakeServer{fail: func(n int) (int, string) {
		switch n {
		case 0:
			return http.StatusTooManyRequests, `{"error":{"message":"rate limited"}}`
		case 1:
			return http.StatusServiceUnavailable, `overloaded`
		}
		return 0, ""
	}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	e, ns := openAITestEmbedder(t, srv, OpenAIConfig{})
	vecs, err := e.Embed(context.Background(), []string{"hi"})
	require.NoError(t, err)
	require.Len(t, vecs, 1)
	require.Equal(t, 3, fake.count())
	require.Len(t, ns.waits, 2)
	// Exponential with jitter in the upper half.
	require.GreaterOrEqual(t, ns.waits[0], openAIBackoffBase/2)
	require.LessOrEqual(t, ns.waits[0], openAIBackoffBase)
	require.GreaterOrEqual(t, ns.waits[1], openAIBackoffBase)
	require.LessOrEqual(t, ns.waits[1], 2*openAIBackoffBase)
}

func TestOpenAIRetriesExhausted(t *testing.T) {
	fake := &openAIFakeServer{fail: func(int) (int, string) {
		return http.StatusInternalServerError, `{"error":"model crashed"}`
	}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	e, ns := openAITestEmbedder(t, srv, OpenAIConfig{MaxRetries: 2})
	_, err := e.Embed(context.Background(), []string{"hi"})
	require.Error(t, err)
	require.Equal(t, 3, fake.count())
	require.Len(t, ns.waits, 2)
	var apiErr *EmbeddingAPIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, http.StatusInternalServerError, apiErr.StatusCode)
	require.Contains(t, err.Error(), "model crashed")
	require.Contains(t, err.Error(), srv.URL+"/v1/embeddings")
	require.Contains(t, err.Error(), "500")
}

func TestOpenAIRetryAfter(t *testing.T) {
	fake := &openAIFakeServer{fail: func(n int) (int, string) {
		if n == 0 {
			return http.StatusTooManyRequests, `{}`
		}
		return 0, ""
	}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fake.count() == 0 {
			w.Header().Set("Retry-After", "7")
		}
		fake.ServeHTTP(w, r)
	}))
	defer srv.Close()
	e, ns := openAITestEmbedder(t, srv, OpenAIConfig{})
	_, err := e.Embed(context.Background(), []string{"hi"})
	require.NoError(t, err)
	require.Equal(t, []time.Duration{7 * time.Second}, ns.waits)
}

func TestOpenAIClientErrorNotRetried(t *testing.T) {
	fake := &openAIFakeServer{fail: func(int) (int, string) {
		return http.StatusBadRequest, `{"error":{"message":"This model's maximum context length is 8192 tokens","type":"invalid_request_error"}}`
	}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	e, ns := openAITestEmbedder(t, srv, OpenAIConfig{})
	_, err := e.Embed(context.Background(), []string{"hi"})
	require.Error(t, err)
	require.Equal(t, 1, fake.count())
	require.Empty(t, ns.waits)
	var apiErr *EmbeddingAPIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, 400, apiErr.StatusCode)
	require.Equal(t, "This model's maximum context length is 8192 tokens", apiErr.Message)
	require.Contains(t, err.Error(), "/v1/embeddings")
	require.Contains(t, err.Error(), "400")
}

func TestOpenAIDimensionMismatch(t *testing.T) {
	fake := &openAIFakeServer{dim: 5}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	e, ns := openAITestEmbedder(t, srv, OpenAIConfig{Dimension: 1024, Model: "m"})
	_, err := e.Embed(context.Background(), []string{"hi"})
	require.Error(t, err)
	require.Contains(t, err.Error(), "5")
	require.Contains(t, err.Error(), "1024")
	require.Equal(t, 1, fake.count(), "a bad response is not retried")
	require.Empty(t, ns.waits)

	e, _ = openAITestEmbedder(t, srv, OpenAIConfig{Dimension: 5})
	vecs, err := e.Embed(context.Background(), []string{"hi", ""})
	require.NoError(t, err)
	require.Len(t, vecs[0], 5)
	require.Equal(t, make([]float32, 5), vecs[1], "configured dimension sizes blank texts' zero vectors")
}

func TestOpenAIMalformedResponses(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"not json", `<html>`, "decode response"},
		{"too few", `{"data":[]}`, "0 embeddings for 1 inputs"},
		{"index out of range", `{"data":[{"index":3,"embedding":[1,2]}]}`, "index 3 out of range"},
		{"empty vector", `{"data":[{"index":0,"embedding":[]}]}`, "dimensions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				fmt.Fprint(w, tt.body)
			}))
			defer srv.Close()
			e, _ := openAITestEmbedder(t, srv, OpenAIConfig{})
			_, err := e.Embed(context.Background(), []string{"x"})
			require.ErrorContains(t, err, tt.want)
			require.EqualValues(t, 1, calls.Load())
		})
	}
}

func TestOpenAINetworkErrorRetried(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // connection refused from now on
	ns := &openAITestSleep{}
	e, err := NewOpenAIEmbedder(OpenAIConfig{BaseURL: url, MaxRetries: 2}, nil, ns.sleep)
	require.NoError(t, err)
	_, err = e.Embed(context.Background(), []string{"x"})
	require.Error(t, err)
	require.Len(t, ns.waits, 2)
	require.Contains(t, err.Error(), url+"/v1/embeddings")
}

func TestOpenAIContextCancel(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	e, ns := openAITestEmbedder(t, srv, OpenAIConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := e.Embed(ctx, []string{"x"})
		done <- err
	}()
	cancel()
	err := <-done
	require.ErrorIs(t, err, context.Canceled)
	require.Empty(t, ns.waits)

	// A context cancelled during the backoff stops the retries.
	fake := &openAIFakeServer{fail: func(int) (int, string) { return 503, "busy" }}
	srv2 := httptest.NewServer(fake)
	defer srv2.Close()
	ctx2, cancel2 := context.WithCancel(context.Background())
	e2, err := NewOpenAIEmbedder(OpenAIConfig{BaseURL: srv2.URL}, srv2.Client(), func(context.Context, time.Duration) error {
		cancel2()
		return context.Canceled
	})
	require.NoError(t, err)
	_, err = e2.Embed(ctx2, []string{"x"})
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, 1, fake.count())
}

func TestOpenAIConfig(t *testing.T) {
	cfg := OpenAIConfig{BaseURL: "https://api.openai.com/v1", Model: "text-embedding-3-small", APIKey: "sk-live-123456"}
	require.NoError(t, cfg.Validate())
	for _, s := range []string{
		cfg.String(),
		fmt.Sprintf("%v", cfg),
		fmt.Sprintf("%+v", cfg),
		fmt.Sprintf("%#v", cfg),
	} {
		require.NotContains(t, s, "sk-live")
		require.Contains(t, s, "REDACTED")
	}
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("embedder", "cfg", cfg)
	require.NotContains(t, b.String(), "sk-live")
	js, err := json.Marshal(cfg)
	require.NoError(t, err)
	require.NotContains(t, string(js), "sk-live")
	e, err := NewOpenAIEmbedder(cfg, nil, nil)
	require.NoError(t, err)
	require.NotContains(t, fmt.Sprintf("%v %+v", e, e), "sk-live")

	for _, bad := range []OpenAIConfig{
		{},
		{BaseURL: "localhost:8080"},
		{BaseURL: "ftp://x"},
		{BaseURL: "http://x", BatchSize: -1},
		{BaseURL: "http://x", Timeout: -time.Second},
		{BaseURL: "http://x", Dimension: -1},
	} {
		require.Error(t, bad.Validate(), "%v", bad)
		_, err := NewOpenAIEmbedder(bad, nil, nil)
		require.Error(t, err)
	}
}

func TestOpenAIErrorMessage(t *testing.T) {
	tests := map[string]string{
		`{"error":{"message":"m1","type":"x"}}`:    "m1",
		`{"error":"m2","error_type":"Validation"}`: "m2",
		`{"message":"m3"}`:                         "m3",
		`{"detail":"m4"}`:                          "m4",
		`{"detail":[{"msg":"m5"}]}`:                `[{"msg":"m5"}]`,
		"plain text\n":                             "plain text",
		"":                                         "",
	}
	for body, want := range tests {
		require.Equal(t, want, openaihttp.ErrorMessage([]byte(body)), body)
	}
	err := &EmbeddingAPIError{Endpoint: "http://h/v1/embeddings", StatusCode: 502}
	require.Equal(t, "embedder: POST http://h/v1/embeddings: 502 Bad Gateway: (empty body)", err.Error())
}

// TestOpenAIRedirectNotFollowed: an embeddings server answering 307 does
// not get the texts or the key sent on to the target.
func TestOpenAIRedirectNotFollowed(t *testing.T) {
	var hits atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer target.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/v1/embeddings", http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	e, ns := openAITestEmbedder(t, srv, OpenAIConfig{APIKey: "sk-embed"})
	_, err := e.Embed(context.Background(), []string{"the garden gate"})
	var apiErr *EmbeddingAPIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, http.StatusTemporaryRedirect, apiErr.StatusCode)
	require.Contains(t, apiErr.Message, "redirects are not followed")
	require.Empty(t, ns.waits, "not retried")
	require.Zero(t, hits.Load(), "the redirect target got nothing")
}
