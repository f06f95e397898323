// Package llmtest is a fake inference backend for tests: an httptest
// server speaking the OpenAI chat completions wire format (plain and
// streamed replies, errors, slow and broken streams), recording what it
// was sent.
package llmtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
)

// Request is one chat completion request the server received.
type Request struct {
	Header   http.Header
	Model    string         `json:"model"`
	Messages []Message      `json:"messages"`
	Stream   bool           `json:"stream"`
	User     string         `json:"user"`
	Raw      map[string]any `json:"-"`
}

// Message is one message of a Request.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
	Name    string `json:"name,omitempty"`
}

// Usage is the token count a reply reports.
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// Handler answers request n (1-based, counting every request the server
// got).
type Handler func(w http.ResponseWriter, r *http.Request, req Request, n int)

// Server is the fake backend. URL (from httptest) is its base URL.
type Server struct {
	*httptest.Server
	calls atomic.Int32
	mu    sync.Mutex
	reqs  []Request
	// Release is closed when the test ends, so that handlers blocking on
	// it (Hang) return.
	Release chan struct{}
}

// New starts a server answering with handle; it stops when the test ends.
func New(t testing.TB, handle Handler) *Server {
	t.Helper()
	s := &Server{Release: make(chan struct{})}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(s.calls.Add(1))
		raw, _ := io.ReadAll(r.Body)
		var req Request
		_ = json.Unmarshal(raw, &req)
		_ = json.Unmarshal(raw, &req.Raw)
		req.Header = r.Header.Clone()
		s.mu.Lock()
		s.reqs = append(s.reqs, req)
		s.mu.Unlock()
		handle(w, r, req, n)
	}))
	t.Cleanup(func() {
		close(s.Release)
		s.Close()
	})
	return s
}

// Calls is how many requests the server got.
func (s *Server) Calls() int { return int(s.calls.Load()) }

// Requests returns the requests received, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

// Reply is a handler that answers every request with content split into
// pieces (streamed one chunk each when the request streams), finish_reason
// "stop" and usage.
func Reply(usage Usage, pieces ...string) Handler {
	return func(w http.ResponseWriter, _ *http.Request, req Request, _ int) {
		if req.Stream {
			WriteStream(w, usage, pieces...)
			return
		}
		content := ""
		for _, p := range pieces {
			content += p
		}
		WriteCompletion(w, content, usage)
	}
}

// WriteCompletion writes a whole chat.completion.
func WriteCompletion(w http.ResponseWriter, content string, usage Usage) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"id": "chatcmpl-test", "object": "chat.completion", "created": 1700000000, "model": "test-model",
		"choices": []any{map[string]any{"index": 0, "message": map[string]any{"role": "assistant", "content": content}, "finish_reason": "stop"}},
		"usage":   usage,
	})
}

// StartStream writes the headers of an event stream.
func StartStream(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	flush(w)
}

// WriteChunk writes one chat.completion.chunk with a content delta.
func WriteChunk(w http.ResponseWriter, content string) {
	writeEvent(w, map[string]any{"id": "chatcmpl-test", "object": "chat.completion.chunk", "model": "test-model",
		"choices": []any{map[string]any{"index": 0, "delta": map[string]any{"content": content}, "finish_reason": nil}}})
}

// WriteStream writes a whole stream: one chunk per piece, a finish_reason
// "stop", a usage chunk and [DONE].
func WriteStream(w http.ResponseWriter, usage Usage, pieces ...string) {
	StartStream(w)
	for _, p := range pieces {
		WriteChunk(w, p)
	}
	writeEvent(w, map[string]any{"id": "chatcmpl-test", "object": "chat.completion.chunk", "model": "test-model",
		"choices": []any{map[string]any{"index": 0, "delta": map[string]any{}, "finish_reason": "stop"}}})
	writeEvent(w, map[string]any{"id": "chatcmpl-test", "object": "chat.completion.chunk", "model": "test-model",
		"choices": []any{}, "usage": usage})
	_, _ = io.WriteString(w, "data: [DONE]\n\n")
	flush(w)
}

// WriteError writes an OpenAI-shaped error with status.
func WriteError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": msg, "type": "server_error"}})
}

// Hang blocks until the client goes away or the test ends.
func (s *Server) Hang(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-s.Release:
	}
}

func writeEvent(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("llmtest: %v", err))
	}
	_, _ = fmt.Fprintf(w, "data: %s\n\n", b)
	flush(w)
}

func flush(w http.ResponseWriter) {
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
}
