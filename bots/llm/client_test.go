package llm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptrace"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/internal/openaihttp"
)

func ptr(f float64) *float64 { return &f }

func TestComplete(t *testing.T) {
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request, n int) {
		writeJSON(w, http.StatusOK, completion("Hello, Sam."))
	})
	c, _ := newClient(t, b.URL, func(cfg *Config) {
		cfg.Temperature = ptr(0.7)
		cfg.TopP = ptr(0.8)
		cfg.MaxTokens = 256
		cfg.Stop = []string{"\nUser:"}
	})
	msgs := []Message{
		{Role: "system", Content: "You are Aria."},
		{Role: "user", Name: "Sam", Content: "Hi!"},
	}
	resp, err := c.Complete(context.Background(), ChatRequest{Messages: msgs, TopP: ptr(0.95), MaxTokens: 64})
	require.NoError(t, err)
	require.Equal(t, ChatResponse{
		Content:      "Hello, Sam.",
		FinishReason: "stop",
		Usage:        Usage{PromptTokens: 12, CompletionTokens: 3, TotalTokens: 15},
		Model:        "hunyuan-a13b-served",
		Attempts:     1,
	}, resp)

	reqs := b.requests()
	require.Len(t, reqs, 1)
	r := reqs[0]
	require.Equal(t, "/v1/chat/completions", r.Path)
	require.Equal(t, "Bearer sk-test-key", r.Header.Get("Authorization"))
	require.Equal(t, "application/json", r.Header.Get("Content-Type"))
	require.Equal(t, "hunyuan-a13b", r.Body["model"])
	require.Equal(t, []any{
		map[string]any{"role": "system", "content": "You are Aria."},
		map[string]any{"role": "user", "name": "Sam", "content": "Hi!"},
	}, r.Body["messages"])
	require.Equal(t, 0.7, r.Body["temperature"], "the config's default")
	require.Equal(t, 0.95, r.Body["top_p"], "the request's override")
	require.Equal(t, float64(64), r.Body["max_tokens"])
	require.Equal(t, []any{"\nUser:"}, r.Body["stop"])
	for _, absent := range []string{"stream", "stream_options", "user", "response_format"} {
		require.NotContains(t, r.Body, absent)
	}
}

func TestCompleteSendsNoOptionalFieldsByDefault(t *testing.T) {
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request, n int) {
		writeJSON(w, http.StatusOK, completion("ok"))
	})
	c, _ := newClient(t, b.URL+"/v1/", func(cfg *Config) { cfg.Model = ""; cfg.APIKey = "" })
	resp, err := c.Complete(context.Background(), ChatRequest{Messages: userMessages("hi"), Model: "bot-model", Temperature: ptr(0)})
	require.NoError(t, err)
	require.Equal(t, "ok", resp.Content)
	r := b.requests()[0]
	require.Equal(t, "/v1/chat/completions", r.Path)
	require.Empty(t, r.Header.Get("Authorization"))
	require.Equal(t, "bot-model", r.Body["model"])
	require.Equal(t, 0.0, r.Body["temperature"], "an explicit 0 is sent")
	for _, absent := range []string{"top_p", "max_tokens", "stop"} {
		require.NotContains(t, r.Body, absent)
	}
}

func TestUserAndResponseFormatSent(t *testing.T) {
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request, n int) {
		writeJSON(w, http.StatusOK, completion(`{"summary":"x"}`))
	})
	c, _ := newClient(t, b.URL, nil)
	_, err := c.Complete(context.Background(), ChatRequest{Messages: userMessages("hi"), User: "conv-42", ResponseFormatJSON: true})
	require.NoError(t, err)
	r := b.requests()[0]
	require.Equal(t, "conv-42", r.Body["user"])
	require.Equal(t, map[string]any{"type": "json_object"}, r.Body["response_format"])
}

func TestStream(t *testing.T) {
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request, n int) {
		startSSE(w)
		_, _ = fmt.Fprint(w, ": ping\n\n")
		sendSSE(w, roleChunk, delta("Hel"))
		sendSSE(w, delta("lo"), delta(", Sam"))
		sendSSE(w, finishChunk, usageChunk, "[DONE]")
	})
	c, _ := newClient(t, b.URL, nil)
	var col collector
	resp, err := c.Stream(context.Background(), ChatRequest{Messages: userMessages("hi"), User: "conv-7"}, col.onDelta)
	require.NoError(t, err)
	require.Equal(t, []string{"Hel", "lo", ", Sam"}, col.deltas)
	require.Equal(t, ChatResponse{
		Content:      "Hello, Sam",
		FinishReason: "stop",
		Usage:        Usage{PromptTokens: 20, CompletionTokens: 3, TotalTokens: 23},
		Model:        "hunyuan-a13b-served",
		Attempts:     1,
	}, resp)

	r := b.requests()[0]
	require.Equal(t, true, r.Body["stream"])
	require.Equal(t, map[string]any{"include_usage": true}, r.Body["stream_options"])
	require.Equal(t, "conv-7", r.Body["user"])
	require.Equal(t, "text/event-stream", r.Header.Get("Accept"))
	require.Equal(t, "Bearer sk-test-key", r.Header.Get("Authorization"))
}

func TestStreamWithoutUsageOrDone(t *testing.T) {
	// A finish_reason ends the reply even when the server closes the
	// stream without [DONE] and without usage.
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request, n int) {
		startSSE(w)
		sendSSE(w, delta("Bye."), finishChunk)
	})
	c, _ := newClient(t, b.URL, nil)
	resp, err := c.Stream(context.Background(), ChatRequest{Messages: userMessages("bye")}, nil)
	require.NoError(t, err)
	require.Equal(t, "Bye.", resp.Content)
	require.Equal(t, "stop", resp.FinishReason)
	require.Equal(t, Usage{}, resp.Usage)
}

func TestStreamKeptOpenAfterDone(t *testing.T) {
	// A server that keeps the response open after [DONE]: the reply is
	// whole and returned.
	var b *backend
	b = newBackend(t, func(w http.ResponseWriter, r *http.Request, n int) {
		startSSE(w)
		sendSSE(w, delta("Done."), finishChunk, "[DONE]")
		b.block(r)
	})
	c, _ := newClient(t, b.URL, nil)
	resp, err := c.Stream(context.Background(), ChatRequest{Messages: userMessages("hi")}, nil)
	require.NoError(t, err)
	require.Equal(t, "Done.", resp.Content)
}

func TestConnectionReusedAfterStream(t *testing.T) {
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request, n int) {
		startSSE(w)
		sendSSE(w, delta("x"), finishChunk, usageChunk, "[DONE]")
	})
	var reused []bool
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) { reused = append(reused, info.Reused) },
	})
	c, _ := newClient(t, b.URL, nil)
	for range 3 {
		_, err := c.Stream(ctx, ChatRequest{Messages: userMessages("hi")}, nil)
		require.NoError(t, err)
	}
	require.Equal(t, []bool{false, true, true}, reused, "one keep-alive connection for consecutive streams")
}

func TestStreamReasoningIsNotContent(t *testing.T) {
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request, n int) {
		startSSE(w)
		sendSSE(w, `{"choices":[{"index":0,"delta":{"reasoning_content":"The user greets."}}]}`,
			delta("Hi!"), finishChunk, "[DONE]")
	})
	c, _ := newClient(t, b.URL, nil)
	var col collector
	resp, err := c.Stream(context.Background(), ChatRequest{Messages: userMessages("hi")}, col.onDelta)
	require.NoError(t, err)
	require.Equal(t, "Hi!", resp.Content)
	require.Equal(t, []string{"Hi!"}, col.deltas)
}

func TestStreamAnsweredWithJSON(t *testing.T) {
	// A server that ignores "stream" and answers a whole completion.
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request, n int) {
		writeJSON(w, http.StatusOK, completion("All at once."))
	})
	c, _ := newClient(t, b.URL, nil)
	var col collector
	resp, err := c.Stream(context.Background(), ChatRequest{Messages: userMessages("hi")}, col.onDelta)
	require.NoError(t, err)
	require.Equal(t, "All at once.", resp.Content)
	require.Equal(t, []string{"All at once."}, col.deltas)
	require.Equal(t, 15, resp.Usage.TotalTokens)
}

func TestRetryOn503ThenSuccess(t *testing.T) {
	for _, stream := range []bool{false, true} {
		t.Run(fmt.Sprintf("stream=%t", stream), func(t *testing.T) {
			b := newBackend(t, func(w http.ResponseWriter, r *http.Request, n int) {
				switch n {
				case 1:
					writeJSON(w, http.StatusServiceUnavailable, `{"error":{"message":"overloaded"}}`)
				case 2:
					w.Header().Set("Retry-After", "3")
					writeJSON(w, http.StatusTooManyRequests, `{"error":{"message":"slow down"}}`)
				default:
					if stream {
						startSSE(w)
						sendSSE(w, delta("Back."), finishChunk, "[DONE]")
						return
					}
					writeJSON(w, http.StatusOK, completion("Back."))
				}
			})
			c, s := newClient(t, b.URL, nil)
			var resp ChatResponse
			var err error
			if stream {
				resp, err = c.Stream(context.Background(), ChatRequest{Messages: userMessages("hi")}, nil)
			} else {
				resp, err = c.Complete(context.Background(), ChatRequest{Messages: userMessages("hi")})
			}
			require.NoError(t, err)
			require.Equal(t, "Back.", resp.Content)
			require.Equal(t, 3, resp.Attempts)
			require.EqualValues(t, 3, b.hits.Load())
			waits := s.waits()
			require.Len(t, waits, 2)
			require.GreaterOrEqual(t, waits[1], 3*time.Second, "Retry-After is honoured")
		})
	}
}

func TestRetriesExhausted(t *testing.T) {
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request, n int) {
		writeJSON(w, http.StatusBadGateway, `{"error":{"message":"no healthy upstream"}}`)
	})
	c, s := newClient(t, b.URL, nil)
	_, err := c.Complete(context.Background(), ChatRequest{Messages: userMessages("hi")})
	require.ErrorIs(t, err, ErrBackend)
	require.NotErrorIs(t, err, ErrTimeout)
	be := backendError(t, err)
	require.Equal(t, http.StatusBadGateway, be.Status)
	require.Equal(t, "no healthy upstream", be.Message)
	require.Equal(t, 1+DefaultMaxRetries, be.Attempts)
	require.Equal(t, b.URL+"/v1/chat/completions", be.Endpoint)
	require.EqualValues(t, 1+DefaultMaxRetries, b.hits.Load())
	require.Len(t, s.waits(), DefaultMaxRetries)
}

func TestNegativeMaxRetriesNeverRetries(t *testing.T) {
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request, n int) {
		writeJSON(w, http.StatusServiceUnavailable, `{}`)
	})
	c, _ := newClient(t, b.URL, func(cfg *Config) { cfg.MaxRetries = -1 })
	_, err := c.Complete(context.Background(), ChatRequest{Messages: userMessages("hi")})
	require.ErrorIs(t, err, ErrBackend)
	require.EqualValues(t, 1, b.hits.Load())
}

func TestConnectionErrorRetried(t *testing.T) {
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request, n int) {})
	url := b.URL
	b.Close() // nothing listens there any more
	c, s := newClient(t, url, nil)
	_, err := c.Stream(context.Background(), ChatRequest{Messages: userMessages("hi")}, nil)
	require.ErrorIs(t, err, ErrBackend)
	be := backendError(t, err)
	require.Zero(t, be.Status)
	require.NotNil(t, be.Err)
	require.Equal(t, 1+DefaultMaxRetries, be.Attempts)
	require.Len(t, s.waits(), DefaultMaxRetries)
}

func TestStreamBrokenBeforeFirstTokenIsRetried(t *testing.T) {
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request, n int) {
		startSSE(w)
		if n == 1 {
			sendSSE(w, roleChunk) // no token yet
			panic(http.ErrAbortHandler)
		}
		sendSSE(w, roleChunk, delta("Fine."), finishChunk, "[DONE]")
	})
	c, s := newClient(t, b.URL, nil)
	resp, err := c.Stream(context.Background(), ChatRequest{Messages: userMessages("hi")}, nil)
	require.NoError(t, err)
	require.Equal(t, "Fine.", resp.Content)
	require.Equal(t, 2, resp.Attempts)
	require.Len(t, s.waits(), 1)
}

func TestNoRetryAfterFirstToken(t *testing.T) {
	for _, tc := range []struct {
		name  string
		abort bool
	}{
		{name: "stream ends without DONE or finish_reason"},
		{name: "connection dropped", abort: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBackend(t, func(w http.ResponseWriter, r *http.Request, n int) {
				startSSE(w)
				sendSSE(w, roleChunk, delta("Hel"), delta("lo"))
				if tc.abort {
					panic(http.ErrAbortHandler)
				}
			})
			c, s := newClient(t, b.URL, nil)
			var col collector
			resp, err := c.Stream(context.Background(), ChatRequest{Messages: userMessages("hi")}, col.onDelta)
			require.ErrorIs(t, err, ErrBackend)
			require.NotErrorIs(t, err, ErrTimeout)
			be := backendError(t, err)
			require.Equal(t, "Hello", be.Partial)
			require.Equal(t, "Hello", resp.Content)
			require.Equal(t, []string{"Hel", "lo"}, col.deltas)
			require.Equal(t, http.StatusOK, be.Status)
			require.Equal(t, 1, be.Attempts)
			require.EqualValues(t, 1, b.hits.Load(), "never retried after content")
			require.Empty(t, s.waits())
		})
	}
}

func TestBadRequestNotRetried(t *testing.T) {
	const msg = "This model's maximum context length is 32768 tokens. However, you requested 40000 tokens."
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request, n int) {
		writeJSON(w, http.StatusBadRequest, `{"object":"error","error":{"message":"`+msg+`","type":"BadRequestError","code":400}}`)
	})
	c, s := newClient(t, b.URL, nil)
	for _, stream := range []bool{false, true} {
		var err error
		if stream {
			_, err = c.Stream(context.Background(), ChatRequest{Messages: userMessages("hi")}, nil)
		} else {
			_, err = c.Complete(context.Background(), ChatRequest{Messages: userMessages("hi")})
		}
		require.ErrorIs(t, err, ErrBackend)
		be := backendError(t, err)
		require.Equal(t, http.StatusBadRequest, be.Status)
		require.Equal(t, msg, be.Message)
		require.Contains(t, err.Error(), msg)
		require.Equal(t, 1, be.Attempts)
	}
	require.EqualValues(t, 2, b.hits.Load())
	require.Empty(t, s.waits())
}

func TestMalformedResponses(t *testing.T) {
	for _, tc := range []struct {
		name    string
		stream  bool
		handle  func(w http.ResponseWriter)
		partial string
		message string // when the server said something
	}{
		{name: "not JSON", handle: func(w http.ResponseWriter) { writeJSON(w, http.StatusOK, "<html>oops</html>") }},
		{name: "no choices", handle: func(w http.ResponseWriter) { writeJSON(w, http.StatusOK, `{"choices":[]}`) }},
		{name: "error in a 200", message: "engine crashed",
			handle: func(w http.ResponseWriter) { writeJSON(w, http.StatusOK, `{"error":{"message":"engine crashed"}}`) }},
		{name: "bad chunk", stream: true, partial: "Hi",
			handle: func(w http.ResponseWriter) { startSSE(w); sendSSE(w, delta("Hi"), `{"choices":[{"delta":`) }},
		{name: "error chunk mid-stream", stream: true, partial: "Hi", message: "CUDA out of memory",
			handle: func(w http.ResponseWriter) {
				startSSE(w)
				sendSSE(w, delta("Hi"), `{"error":{"message":"CUDA out of memory","code":500}}`)
			}},
		{name: "error event before any token", stream: true, message: "queue full",
			handle: func(w http.ResponseWriter) {
				startSSE(w)
				_, _ = fmt.Fprint(w, "event: error\ndata: {\"error\":\"queue full\"}\n\n")
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBackend(t, func(w http.ResponseWriter, r *http.Request, n int) { tc.handle(w) })
			c, _ := newClient(t, b.URL, nil)
			var resp ChatResponse
			var err error
			if tc.stream {
				resp, err = c.Stream(context.Background(), ChatRequest{Messages: userMessages("hi")}, nil)
			} else {
				resp, err = c.Complete(context.Background(), ChatRequest{Messages: userMessages("hi")})
			}
			require.ErrorIs(t, err, ErrBackend)
			be := backendError(t, err)
			require.Equal(t, tc.partial, be.Partial)
			require.Equal(t, tc.partial, resp.Content)
			if tc.message != "" {
				require.Equal(t, tc.message, be.Message)
			}
			require.EqualValues(t, 1, b.hits.Load(), "a malformed answer is not retried")
		})
	}
}

func TestSlowServerTimesOut(t *testing.T) {
	for _, stream := range []bool{false, true} {
		t.Run(fmt.Sprintf("stream=%t", stream), func(t *testing.T) {
			var b *backend
			b = newBackend(t, func(w http.ResponseWriter, r *http.Request, n int) { b.block(r) })
			c, s := newClient(t, b.URL, func(cfg *Config) {
				cfg.Timeout = 50 * time.Millisecond
				cfg.FirstTokenTimeout = time.Hour
			})
			var err error
			if stream {
				_, err = c.Stream(context.Background(), ChatRequest{Messages: userMessages("hi")}, nil)
			} else {
				_, err = c.Complete(context.Background(), ChatRequest{Messages: userMessages("hi")})
			}
			require.ErrorIs(t, err, ErrTimeout)
			require.ErrorIs(t, err, context.DeadlineExceeded)
			require.NotErrorIs(t, err, ErrBackend)
			require.Equal(t, 1, backendError(t, err).Attempts, "a timeout is not retried")
			require.Empty(t, s.waits())
		})
	}
}

func TestTimeoutMidStreamKeepsPartial(t *testing.T) {
	var b *backend
	b = newBackend(t, func(w http.ResponseWriter, r *http.Request, n int) {
		startSSE(w)
		sendSSE(w, delta("Hel"))
		b.block(r)
	})
	c, _ := newClient(t, b.URL, func(cfg *Config) {
		cfg.Timeout = 100 * time.Millisecond
		cfg.FirstTokenTimeout = time.Hour
	})
	var col collector
	resp, err := c.Stream(context.Background(), ChatRequest{Messages: userMessages("hi")}, col.onDelta)
	require.ErrorIs(t, err, ErrTimeout)
	be := backendError(t, err)
	// How much arrived before the deadline depends on the machine; what
	// arrived is returned, and nothing else.
	require.Equal(t, col.joined(), be.Partial)
	require.Equal(t, col.joined(), resp.Content)
	require.EqualValues(t, 1, b.hits.Load())
}

func TestFirstTokenTimeout(t *testing.T) {
	var b *backend
	b = newBackend(t, func(w http.ResponseWriter, r *http.Request, n int) {
		startSSE(w)
		sendSSE(w, roleChunk) // headers and a role, but no token
		b.block(r)
	})
	c, s := newClient(t, b.URL, func(cfg *Config) {
		cfg.FirstTokenTimeout = 50 * time.Millisecond
		cfg.Timeout = time.Hour // so only the first-token timeout can fire
	})
	var col collector
	resp, err := c.Stream(context.Background(), ChatRequest{Messages: userMessages("hi")}, col.onDelta)
	require.ErrorIs(t, err, ErrTimeout)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	be := backendError(t, err)
	require.Empty(t, be.Partial)
	require.Empty(t, resp.Content)
	require.Empty(t, col.deltas)
	require.Equal(t, http.StatusOK, be.Status)
	require.EqualValues(t, 1, b.hits.Load())
	require.Empty(t, s.waits())
}

func TestFirstTokenTimeoutDoesNotCutALongReply(t *testing.T) {
	// The first-token timer stops at the first token: a reply that keeps
	// streaming after it is not cut.
	var b *backend
	release := make(chan struct{})
	b = newBackend(t, func(w http.ResponseWriter, r *http.Request, n int) {
		startSSE(w)
		sendSSE(w, delta("a"))
		select { // wait until the client has seen the first token
		case <-release:
		case <-r.Context().Done():
			return
		}
		sendSSE(w, delta("b"), finishChunk, "[DONE]")
	})
	c, _ := newClient(t, b.URL, func(cfg *Config) { cfg.FirstTokenTimeout = time.Hour })
	resp, err := c.Stream(context.Background(), ChatRequest{Messages: userMessages("hi")}, func(s string) error {
		if s == "a" {
			close(release)
		}
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, "ab", resp.Content)
}

func TestCallerCancel(t *testing.T) {
	t.Run("while the backend works", func(t *testing.T) {
		arrived := make(chan struct{})
		var b *backend
		b = newBackend(t, func(w http.ResponseWriter, r *http.Request, n int) {
			close(arrived)
			b.block(r)
		})
		c, _ := newClient(t, b.URL, nil)
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			<-arrived
			cancel()
		}()
		_, err := c.Stream(ctx, ChatRequest{Messages: userMessages("hi")}, nil)
		require.ErrorIs(t, err, context.Canceled)
		require.NotErrorIs(t, err, ErrBackend)
		require.NotErrorIs(t, err, ErrTimeout)
	})
	t.Run("mid-stream", func(t *testing.T) {
		var b *backend
		b = newBackend(t, func(w http.ResponseWriter, r *http.Request, n int) {
			startSSE(w)
			sendSSE(w, delta("Hel"))
			b.block(r)
		})
		c, _ := newClient(t, b.URL, nil)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		resp, err := c.Stream(ctx, ChatRequest{Messages: userMessages("hi")}, func(string) error {
			cancel()
			return nil
		})
		require.ErrorIs(t, err, context.Canceled)
		require.NotErrorIs(t, err, ErrBackend)
		require.Equal(t, "Hel", resp.Content)
		require.EqualValues(t, 1, b.hits.Load())
	})
	t.Run("while waiting to retry", func(t *testing.T) {
		b := newBackend(t, func(w http.ResponseWriter, r *http.Request, n int) {
			writeJSON(w, http.StatusServiceUnavailable, `{}`)
		})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		c, err := New(Config{BaseURL: b.URL}, nil, func(ctx context.Context, d time.Duration) error {
			cancel()
			return ctx.Err()
		})
		require.NoError(t, err)
		_, err = c.Complete(ctx, ChatRequest{Messages: userMessages("hi")})
		require.ErrorIs(t, err, context.Canceled)
		require.NotErrorIs(t, err, ErrBackend)
		require.EqualValues(t, 1, b.hits.Load())
	})
	t.Run("caller's deadline is a timeout", func(t *testing.T) {
		var b *backend
		b = newBackend(t, func(w http.ResponseWriter, r *http.Request, n int) { b.block(r) })
		c, _ := newClient(t, b.URL, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := c.Complete(ctx, ChatRequest{Messages: userMessages("hi")})
		require.ErrorIs(t, err, ErrTimeout)
		require.ErrorIs(t, err, context.DeadlineExceeded)
	})
}

func TestDeltaCallbackErrorStopsTheStream(t *testing.T) {
	var b *backend
	b = newBackend(t, func(w http.ResponseWriter, r *http.Request, n int) {
		startSSE(w)
		sendSSE(w, delta("Hel"))
		b.block(r)
	})
	c, _ := newClient(t, b.URL, nil)
	errGone := errors.New("chat app went away")
	resp, err := c.Stream(context.Background(), ChatRequest{Messages: userMessages("hi")}, func(string) error { return errGone })
	require.ErrorIs(t, err, errGone)
	var be *BackendError
	require.False(t, errors.As(err, &be), "the caller's own failure is not a backend error")
	require.Equal(t, "Hel", resp.Content)
	require.EqualValues(t, 1, b.hits.Load())
}

func TestCompleteJSON(t *testing.T) {
	t.Run("backend with JSON mode", func(t *testing.T) {
		b := newBackend(t, func(w http.ResponseWriter, r *http.Request, n int) {
			writeJSON(w, http.StatusOK, completion(`{"summary":"Sam likes tea."}`))
		})
		c, _ := newClient(t, b.URL, nil)
		out, err := c.CompleteJSON(context.Background(), userMessages("Answer with JSON."))
		require.NoError(t, err)
		require.Equal(t, `{"summary":"Sam likes tea."}`, out)
		reqs := b.requests()
		require.Len(t, reqs, 1)
		require.Equal(t, map[string]any{"type": "json_object"}, reqs[0].Body["response_format"])
	})
	t.Run("backend without JSON mode", func(t *testing.T) {
		b := newBackend(t, func(w http.ResponseWriter, r *http.Request, n int) {
			if n == 1 {
				writeJSON(w, http.StatusBadRequest, `{"error":"response_format is not supported"}`)
				return
			}
			writeJSON(w, http.StatusOK, completion(`{"summary":"Sam likes tea."}`))
		})
		c, _ := newClient(t, b.URL, nil)
		out, err := c.CompleteJSON(context.Background(), userMessages("Answer with JSON."))
		require.NoError(t, err)
		require.Equal(t, `{"summary":"Sam likes tea."}`, out)
		reqs := b.requests()
		require.Len(t, reqs, 2)
		require.NotContains(t, reqs[1].Body, "response_format")
	})
	t.Run("failure", func(t *testing.T) {
		b := newBackend(t, func(w http.ResponseWriter, r *http.Request, n int) {
			writeJSON(w, http.StatusUnauthorized, `{"error":{"message":"bad key"}}`)
		})
		c, _ := newClient(t, b.URL, nil)
		_, err := c.CompleteJSON(context.Background(), userMessages("Answer with JSON."))
		require.ErrorIs(t, err, ErrBackend)
		require.Equal(t, http.StatusUnauthorized, backendError(t, err).Status)
	})
}

func TestInvalidRequest(t *testing.T) {
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request, n int) {})
	c, _ := newClient(t, b.URL, nil)
	_, err := c.Complete(context.Background(), ChatRequest{})
	require.Error(t, err)
	_, err = c.Complete(context.Background(), ChatRequest{Messages: userMessages("hi"), Temperature: ptr(3)})
	require.Error(t, err)
	require.EqualValues(t, 0, b.hits.Load())
}

func TestAPIKeyNeverPrinted(t *testing.T) {
	const key = "sk-very-secret-4242"
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request, n int) {
		writeJSON(w, http.StatusUnauthorized, `{"error":{"message":"invalid api key"}}`)
	})
	cfg := Config{BaseURL: strings.Replace(b.URL, "http://", "http://longmem:hunter2@", 1), Model: "m", APIKey: key, Temperature: ptr(0.5)}
	c, err := New(cfg, nil, (&sleeper{}).sleep)
	require.NoError(t, err)
	_, callErr := c.Complete(context.Background(), ChatRequest{Messages: userMessages("hi")})
	require.ErrorIs(t, callErr, ErrBackend)
	require.Equal(t, "Bearer "+key, b.requests()[0].Header.Get("Authorization"))

	var printed []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%d", "%x"} {
		printed = append(printed,
			fmt.Sprintf(verb, cfg), fmt.Sprintf(verb, &cfg), fmt.Sprintf(verb, c),
			fmt.Sprintf(verb, struct{ C Config }{cfg}), fmt.Sprintf(verb, callErr))
	}
	printed = append(printed, cfg.String(), cfg.GoString(), c.String(), callErr.Error())
	var logs bytes.Buffer
	for _, h := range []slog.Handler{slog.NewJSONHandler(&logs, nil), slog.NewTextHandler(&logs, nil)} {
		slog.New(h).Info("backend", "config", cfg, "client", c, "err", callErr)
	}
	printed = append(printed, logs.String())
	for _, p := range printed {
		require.NotContains(t, p, key)
		require.NotContains(t, p, "hunter2", "the URL's password is redacted too")
	}
	js, err := json.Marshal(cfg)
	require.NoError(t, err)
	require.NotContains(t, string(js), key, "the key is never serialised")
	require.Contains(t, cfg.String(), openaihttp.Redacted, "a set key is shown as set")
	require.NotContains(t, Config{BaseURL: "http://x"}.String(), openaihttp.Redacted, "an absent key is shown absent")
	require.Contains(t, logs.String(), openaihttp.Redacted)
}

func TestNewValidates(t *testing.T) {
	_, err := New(Config{}, nil, nil)
	require.Error(t, err)
	c, err := New(Config{BaseURL: "http://localhost:8000"}, nil, nil)
	require.NoError(t, err)
	require.Equal(t, DefaultTimeout, c.cfg.Timeout)
	require.Equal(t, DefaultFirstTokenTimeout, c.cfg.FirstTokenTimeout)
	require.Equal(t, DefaultMaxRetries, c.cfg.MaxRetries)
}

// TestRedirectNotFollowed: a backend answering 307 (to another host, or
// to the same one) does not get the prompt or the key sent on; the call
// fails, unretried, saying where the redirect pointed.
func TestRedirectNotFollowed(t *testing.T) {
	target := newBackend(t, func(w http.ResponseWriter, r *http.Request, n int) {
		writeJSON(w, http.StatusOK, completion("stolen"))
	})
	for _, to := range []string{target.URL + "/v1/chat/completions", "/elsewhere"} {
		b := newBackend(t, func(w http.ResponseWriter, r *http.Request, n int) {
			if r.URL.Path == "/elsewhere" {
				writeJSON(w, http.StatusOK, completion("stolen"))
				return
			}
			w.Header().Set("Location", to)
			w.WriteHeader(http.StatusTemporaryRedirect)
		})
		c, _ := newClient(t, b.URL, nil)
		_, err := c.Complete(context.Background(), ChatRequest{Messages: userMessages("secret plans")})
		be := backendError(t, err)
		require.ErrorIs(t, err, ErrBackend)
		require.Equal(t, http.StatusTemporaryRedirect, be.Status)
		require.Equal(t, 1, be.Attempts, "a redirect is not retried")
		require.Contains(t, be.Message, "redirects are not followed")
		reqs := b.requests()
		require.Len(t, reqs, 1, "only the configured endpoint was called")
		require.Equal(t, "/v1/chat/completions", reqs[0].Path)
	}
	require.Empty(t, target.requests(), "the redirect target got nothing")
}
