package llm

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// recorded is one request the fake backend received.
type recorded struct {
	Path   string
	Header http.Header
	Body   map[string]any
}

// backend is an httptest server speaking the OpenAI wire format through
// handle, which gets the attempt number (1-based).
type backend struct {
	*httptest.Server
	hits atomic.Int32
	mu   sync.Mutex
	reqs []recorded
	// release is closed at cleanup, so that blocking handlers return.
	release chan struct{}
}

func newBackend(t *testing.T, handle func(w http.ResponseWriter, r *http.Request, n int)) *backend {
	t.Helper()
	b := &backend{release: make(chan struct{})}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(b.hits.Add(1))
		raw, _ := io.ReadAll(r.Body)
		var body map[string]any
		_ = json.Unmarshal(raw, &body)
		b.mu.Lock()
		b.reqs = append(b.reqs, recorded{Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
		b.mu.Unlock()
		handle(w, r, n)
	}))
	t.Cleanup(func() {
		close(b.release)
		b.Close()
	})
	return b
}

func (b *backend) requests() []recorded {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]recorded(nil), b.reqs...)
}

// block waits until the client goes away or the test ends.
func (b *backend) block(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-b.release:
	}
}

// sleeper records the waits asked for and never waits.
type sleeper struct {
	mu sync.Mutex
	ds []time.Duration
}

func (s *sleeper) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.ds = append(s.ds, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeper) waits() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.ds...)
}

// newClient returns a client of url whose waits are recorded by the
// returned sleeper; edit changes the config first.
func newClient(t *testing.T, url string, edit func(*Config)) (*Client, *sleeper) {
	t.Helper()
	cfg := Config{BaseURL: url, Model: "hunyuan-a13b", APIKey: "sk-test-key"}
	if edit != nil {
		edit(&cfg)
	}
	s := &sleeper{}
	c, err := New(cfg, nil, s.sleep)
	require.NoError(t, err)
	return c, s
}

func writeJSON(w http.ResponseWriter, status int, v string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, v)
}

// completion is a non-streaming chat.completion with content.
func completion(content string) string {
	c, _ := json.Marshal(content)
	return fmt.Sprintf(`{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"hunyuan-a13b-served",`+
		`"choices":[{"index":0,"message":{"role":"assistant","content":%s},"finish_reason":"stop"}],`+
		`"usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15}}`, c)
}

// delta is a chat.completion.chunk carrying content.
func delta(content string) string {
	c, _ := json.Marshal(content)
	return fmt.Sprintf(`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"hunyuan-a13b-served",`+
		`"choices":[{"index":0,"delta":{"content":%s},"finish_reason":null}]}`, c)
}

const (
	roleChunk   = `{"id":"chatcmpl-1","object":"chat.completion.chunk","model":"hunyuan-a13b-served","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`
	finishChunk = `{"id":"chatcmpl-1","object":"chat.completion.chunk","model":"hunyuan-a13b-served","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`
	usageChunk  = `{"id":"chatcmpl-1","object":"chat.completion.chunk","model":"hunyuan-a13b-served","choices":[],"usage":{"prompt_tokens":20,"completion_tokens":3,"total_tokens":23}}`
)

// startSSE writes the event-stream headers.
func startSSE(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	w.(http.Flusher).Flush()
}

// sendSSE writes each payload as one "data:" event and flushes.
func sendSSE(w http.ResponseWriter, payloads ...string) {
	for _, p := range payloads {
		_, _ = io.WriteString(w, "data: "+p+"\n\n")
	}
	w.(http.Flusher).Flush()
}

// collector gathers the deltas of a Stream call.
type collector struct{ deltas []string }

func (c *collector) onDelta(s string) error {
	c.deltas = append(c.deltas, s)
	return nil
}

func (c *collector) joined() string { return strings.Join(c.deltas, "") }

func userMessages(text string) []Message {
	return []Message{{Role: "system", Content: "You are Aria."}, {Role: "user", Content: text}}
}

// backendError asserts err is a *BackendError and returns it.
func backendError(t *testing.T, err error) *BackendError {
	t.Helper()
	var be *BackendError
	require.ErrorAs(t, err, &be)
	return be
}
