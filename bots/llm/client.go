// Package llm is the OpenAI-compatible chat completions client of the
// inference backend (vLLM, SGLang, TGI, Ollama, Hunyuan's API …): plain
// and streamed replies, retries only before the first token, and typed
// errors that unwrap to ErrBackend or ErrTimeout.
package llm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"time"

	"github.com/longmem/longmem/internal/openaihttp"
)

// Message is one chat message in the OpenAI vocabulary: Role "system",
// "user" or "assistant"; Name, when set, is sent as "name" and must suit
// the server (OpenAI allows [A-Za-z0-9_-]{1,64}).
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
	Name    string `json:"name,omitempty"`
}

// ChatRequest is one chat completion request. Zero fields take the
// Config's defaults; those left zero there are not sent.
type ChatRequest struct {
	// Messages, in order; at least one.
	Messages []Message
	// Model overrides Config.Model.
	Model string
	// Temperature in [0, 2] and TopP in [0, 1] override the Config's; nil
	// keeps them.
	Temperature *float64
	TopP        *float64
	// MaxTokens caps the reply, in tokens of the model; 0 keeps the
	// Config's.
	MaxTokens int
	// Stop sequences; nil keeps the Config's, an empty non-nil slice sends
	// none.
	Stop []string
	// User is sent as the OpenAI "user" field. longmem sends the
	// conversation id, so that cache-aware routers keep a conversation on
	// one replica and its prompt prefix stays cached.
	User string
	// ResponseFormatJSON sends response_format {"type":"json_object"}; the
	// messages must still ask for JSON.
	ResponseFormatJSON bool
}

// Usage is the backend's token count of a call, in tokens of the model.
// Zero when the backend did not report it.
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// ChatResponse is the reply of choice 0.
type ChatResponse struct {
	// Content is the reply's text (reasoning streamed separately, as
	// "reasoning_content", is not part of it). After a failed Stream it is
	// the partial content received.
	Content string
	// FinishReason is the backend's: "stop", "length" …; "" when it sent
	// none (a stream ended by [DONE] alone).
	FinishReason string
	Usage        Usage
	// Model is the model that answered, as the backend names it (else the
	// one requested).
	Model string
	// Attempts is how many requests were sent (1 + retries).
	Attempts int
}

// Client calls one OpenAI-compatible chat completions endpoint. It is
// immutable and safe for concurrent use.
type Client struct {
	cfg      Config // with defaults
	endpoint string // the URL posted to
	printed  string // endpoint without credentials, for errors
	http     *http.Client
	sleep    func(ctx context.Context, d time.Duration) error
}

// New returns a client for cfg. client nil means a new http.Client (whose
// Timeout should stay 0: Config's timeouts bound each call); the client
// is used through a copy that follows no redirect (a 3xx is a failed call,
// not retried). sleep nil means a timer that stops early when ctx is done
// (tests pass one that does not wait). No request is made.
func New(cfg Config, client *http.Client, sleep func(ctx context.Context, d time.Duration) error) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if sleep == nil {
		sleep = openaihttp.Sleep
	}
	ep := openaihttp.Endpoint(cfg.BaseURL, "chat/completions")
	return &Client{cfg: cfg, endpoint: ep, printed: RedactedURL(ep), http: openaihttp.NoRedirects(client), sleep: sleep}, nil
}

// String describes the client without its API key.
func (c *Client) String() string {
	return fmt.Sprintf("llm.Client{Endpoint:%q Model:%q APIKey:%q}", c.printed, c.cfg.Model, redact(c.cfg.APIKey))
}

// Endpoint is the URL the client posts to, without credentials.
func (c *Client) Endpoint() string { return c.printed }

// GoString is String, so that %#v redacts the key too.
func (c *Client) GoString() string { return c.String() }

// Format prints String for every verb, so that no verb prints the key.
func (c *Client) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, c.String()) }

// Complete asks for the whole reply at once. It retries connection errors,
// 429 and 5xx up to MaxRetries times within Timeout. Errors are
// *BackendError (ErrBackend, ErrTimeout); when ctx is canceled, an error
// wrapping context.Canceled.
func (c *Client) Complete(ctx context.Context, req ChatRequest) (ChatResponse, error) {
	return c.do(ctx, req, false, nil)
}

// Stream asks for the reply as Server-Sent Events ("stream": true, with
// usage in the last chunk) and calls onDelta (may be nil) with each piece
// of content, in order, from the calling goroutine. It retries like
// Complete, but only until the first token: once any content came, a
// failure ends the call with the content so far, in the response's Content
// and the error's Partial. A stream that ends without [DONE] or a
// finish_reason is an ErrBackend. An error from onDelta abandons the
// stream and is returned wrapped (not as a BackendError).
func (c *Client) Stream(ctx context.Context, req ChatRequest, onDelta func(string) error) (ChatResponse, error) {
	return c.do(ctx, req, true, onDelta)
}

// CompleteJSON returns the reply to msgs, asking the backend for a JSON
// object (response_format json_object); the messages must ask for JSON
// too. A backend that refuses response_format (400 or 422) is asked once
// more without it. It is compaction.Completer's method over this
// package's Message.
func (c *Client) CompleteJSON(ctx context.Context, msgs []Message) (string, error) {
	resp, err := c.Complete(ctx, ChatRequest{Messages: msgs, ResponseFormatJSON: true})
	var be *BackendError
	if errors.As(err, &be) && be.Kind == ErrBackend && (be.Status == http.StatusBadRequest || be.Status == http.StatusUnprocessableEntity) {
		resp, err = c.Complete(ctx, ChatRequest{Messages: msgs})
	}
	if err != nil {
		return "", err
	}
	return resp.Content, nil
}

// Causes of the contexts a call cancels itself.
var (
	errCallTimeout       = errors.New("llm: call timeout")
	errFirstTokenTimeout = errors.New("llm: first token timeout")
	errDrained           = errors.New("llm: reply complete")
)

// Retry backoff: exponential from backoffBase, capped at backoffMax, the
// upper half jittered; a longer Retry-After wins.
const (
	backoffBase = 500 * time.Millisecond
	backoffMax  = 8 * time.Second
)

// maxRetryAfter caps the wait a server's Retry-After can ask for.
const maxRetryAfter = time.Minute

// maxBody caps a whole (not streamed) response body, in bytes.
const maxBody = 32 << 20

// do runs a call: attempts and the waits between them, within Timeout.
func (c *Client) do(ctx context.Context, req ChatRequest, stream bool, onDelta func(string) error) (ChatResponse, error) {
	body, err := c.encode(req, stream)
	if err != nil {
		return ChatResponse{}, err
	}
	model := req.Model
	if model == "" {
		model = c.cfg.Model
	}
	callCtx, cancel := context.WithTimeoutCause(ctx, c.cfg.Timeout, errCallTimeout)
	defer cancel()
	for attempt := 1; ; attempt++ {
		resp, err := c.attempt(ctx, callCtx, body, stream, onDelta)
		resp.Attempts = attempt
		if resp.Model == "" {
			resp.Model = model
		}
		if err == nil {
			return resp, nil
		}
		var be *BackendError
		if !errors.As(err, &be) {
			return resp, err // canceled by the caller, or onDelta failed
		}
		be.Attempts = attempt
		if !be.retryable || attempt > c.cfg.MaxRetries {
			return resp, be
		}
		d := max(openaihttp.Backoff(attempt-1, backoffBase, backoffMax), be.retryAfter)
		if dl, ok := callCtx.Deadline(); ok && time.Until(dl) <= d {
			return resp, be // no time left to wait and try again
		}
		if serr := c.sleep(callCtx, d); serr != nil {
			if errors.Is(ctx.Err(), context.Canceled) {
				return resp, fmt.Errorf("llm: POST %s: %w", c.printed, ctx.Err())
			}
			last := be.Message
			if last == "" && be.Err != nil {
				last = be.Err.Error()
			}
			kind := ErrBackend
			if callCtx.Err() != nil {
				kind = ErrTimeout
			}
			return resp, &BackendError{Kind: kind, Status: be.Status, Endpoint: c.printed, Attempts: attempt,
				Message: "gave up waiting to retry; last attempt: " + last, Err: serr}
		}
	}
}

// encode builds the request body.
func (c *Client) encode(req ChatRequest, stream bool) ([]byte, error) {
	if len(req.Messages) == 0 {
		return nil, errors.New("llm: chat request has no messages")
	}
	w := wireRequest{
		Model:       req.Model,
		Messages:    make([]wireMessage, len(req.Messages)),
		Temperature: req.Temperature,
		TopP:        req.TopP,
		MaxTokens:   req.MaxTokens,
		Stop:        req.Stop,
		User:        req.User,
	}
	if w.Model == "" {
		w.Model = c.cfg.Model
	}
	for i, m := range req.Messages {
		w.Messages[i] = wireMessage(m)
	}
	if w.Temperature == nil {
		w.Temperature = c.cfg.Temperature
	}
	if w.TopP == nil {
		w.TopP = c.cfg.TopP
	}
	if w.MaxTokens == 0 {
		w.MaxTokens = c.cfg.MaxTokens
	}
	if w.Stop == nil {
		w.Stop = c.cfg.Stop
	}
	if err := checkSampling(w.Temperature, w.TopP, w.MaxTokens); err != nil {
		return nil, err
	}
	if req.ResponseFormatJSON {
		w.ResponseFormat = &wireResponseFormat{Type: "json_object"}
	}
	if stream {
		w.Stream = true
		w.StreamOptions = &wireStreamOptions{IncludeUsage: true}
	}
	return json.Marshal(w)
}

// attempt sends one request. ctx is the caller's, callCtx bounds the call.
func (c *Client) attempt(ctx, callCtx context.Context, body []byte, stream bool, onDelta func(string) error) (ChatResponse, error) {
	actx, cancel := context.WithCancelCause(callCtx)
	defer cancel(nil)
	var res streamResult
	onFirst := func() {}
	if stream {
		first := time.AfterFunc(c.cfg.FirstTokenTimeout, func() { cancel(errFirstTokenTimeout) })
		defer first.Stop()
		onFirst = func() { first.Stop() }
	}
	hreq, err := http.NewRequestWithContext(actx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return ChatResponse{}, &BackendError{Kind: ErrBackend, Endpoint: c.printed, Message: "build request", Err: err}
	}
	hreq.Header.Set("Content-Type", "application/json")
	if stream {
		hreq.Header.Set("Accept", "text/event-stream")
	} else {
		hreq.Header.Set("Accept", "application/json")
	}
	if c.cfg.APIKey != "" {
		hreq.Header.Set("Authorization", "Bearer "+c.cfg.APIKey)
	}
	hres, err := c.http.Do(hreq)
	if err != nil {
		return ChatResponse{}, c.failure(ctx, callCtx, actx, 0, "", false, openaihttp.ScrubURLError(err))
	}
	defer hres.Body.Close()

	if hres.StatusCode < 200 || hres.StatusCode > 299 {
		msg, rerr := openaihttp.FailureMessage(hres)
		if rerr != nil && actx.Err() != nil {
			return ChatResponse{}, c.failure(ctx, callCtx, actx, hres.StatusCode, "", false, rerr)
		}
		return ChatResponse{}, &BackendError{
			Kind:       ErrBackend,
			Status:     hres.StatusCode,
			Message:    msg,
			Endpoint:   c.printed,
			retryable:  hres.StatusCode == http.StatusTooManyRequests || hres.StatusCode >= 500,
			retryAfter: openaihttp.RetryAfter(hres.Header.Get("Retry-After"), maxRetryAfter),
		}
	}

	if !stream || isJSON(hres.Header.Get("Content-Type")) {
		// A whole completion; also what a server that ignores "stream"
		// sends.
		raw, err := openaihttp.ReadAll(hres.Body, maxBody)
		if errors.Is(err, openaihttp.ErrTooLarge) {
			err = &malformedError{err}
		}
		if err != nil {
			return ChatResponse{}, c.failure(ctx, callCtx, actx, hres.StatusCode, "", false, err)
		}
		resp, err := decodeResponse(raw)
		if err != nil {
			return ChatResponse{}, c.failure(ctx, callCtx, actx, hres.StatusCode, "", false, err)
		}
		if stream {
			onFirst()
			if onDelta != nil && resp.Content != "" {
				if err := onDelta(resp.Content); err != nil {
					return resp, fmt.Errorf("llm: POST %s: delta callback: %w", c.printed, err)
				}
			}
		}
		return resp, nil
	}

	err = decodeStream(hres.Body, &res, onFirst, onDelta)
	resp := ChatResponse{Content: res.content.String(), FinishReason: res.finish, Model: res.model, Usage: res.usage.usage()}
	if err == nil {
		drain(hres.Body, cancel)
		return resp, nil
	}
	var cb *callbackError
	if errors.As(err, &cb) {
		return resp, fmt.Errorf("llm: POST %s: delta callback: %w", c.printed, cb.err)
	}
	return resp, c.failure(ctx, callCtx, actx, hres.StatusCode, resp.Content, res.token, err)
}

// failure classifies the failure err of an attempt: the caller's context
// (canceled: a plain error wrapping context.Canceled; deadline:
// ErrTimeout), the call's Timeout, the first-token timeout, or a backend
// failure, retryable when it is a transport error or a stream that ended
// early, and no token came.
func (c *Client) failure(ctx, callCtx, actx context.Context, status int, partial string, token bool, err error) error {
	be := &BackendError{Kind: ErrTimeout, Status: status, Endpoint: c.printed, Partial: partial, Err: err}
	var ne net.Error
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		return fmt.Errorf("llm: POST %s: %w", c.printed, ctx.Err())
	case ctx.Err() != nil:
		be.Message = "the caller's deadline passed"
		be.Err = ctx.Err()
	case errors.Is(context.Cause(callCtx), errCallTimeout):
		be.Message = fmt.Sprintf("no complete reply within %s", c.cfg.Timeout)
		be.Err = context.DeadlineExceeded
	case errors.Is(context.Cause(actx), errFirstTokenTimeout):
		be.Message = fmt.Sprintf("no first token within %s", c.cfg.FirstTokenTimeout)
		be.Err = context.DeadlineExceeded
	case errors.As(err, &ne) && ne.Timeout():
		be.Message = "transport timeout"
	default:
		be.Kind = ErrBackend
		var se *serverError
		var me *malformedError
		switch {
		case errors.As(err, &se):
			be.Message, be.Err = se.msg, nil
		case errors.As(err, &me):
			be.Message, be.Err = me.Error(), nil
		case errors.Is(err, errIncomplete):
			be.Message, be.Err = errIncomplete.Error(), nil
			be.retryable = !token
		default: // transport
			if status != 0 {
				be.Message = "connection broke while reading the reply"
			}
			be.retryable = !token
		}
	}
	return be
}

// drainWait bounds the wait for the end of a response body after the
// reply is whole.
const drainWait = 100 * time.Millisecond

// drain reads what is left of a finished stream's body (its end of
// chunks), so that the connection can be reused; a server that keeps the
// stream open is cut after drainWait by cancel, the attempt's.
func drain(body io.Reader, cancel context.CancelCauseFunc) {
	t := time.AfterFunc(drainWait, func() { cancel(errDrained) })
	defer t.Stop()
	_, _ = io.Copy(io.Discard, io.LimitReader(body, 64<<10))
}

// isJSON reports whether a Content-Type is application/json.
func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/json"
}
