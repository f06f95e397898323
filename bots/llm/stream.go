package llm

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/longmem/longmem/internal/openaihttp"
)

// Failures of decoding a response, told apart by the attempt that maps
// them to a BackendError.
var (
	// errIncomplete: the stream ended without [DONE] or a finish_reason.
	errIncomplete = errors.New("stream ended before the reply was finished (no finish_reason or [DONE])")
	// errNoChoices: a completion without choices[0].
	errNoChoices = errors.New("response has no choices")
)

// malformedError: the server sent something that is not the wire format.
// A retry will not fix it.
type malformedError struct{ err error }

func (e *malformedError) Error() string { return "malformed response: " + e.err.Error() }
func (e *malformedError) Unwrap() error { return e.err }

// serverError: the server reported an error in a 2xx body or in the
// stream.
type serverError struct{ msg string }

func (e *serverError) Error() string { return e.msg }

// callbackError: the caller's onDelta failed; the stream was abandoned.
type callbackError struct{ err error }

func (e *callbackError) Error() string { return e.err.Error() }
func (e *callbackError) Unwrap() error { return e.err }

// streamResult accumulates what a stream delivered.
type streamResult struct {
	content strings.Builder
	model   string
	finish  string     // the finish_reason of choice 0, "" until one came
	usage   *wireUsage // the last usage seen
	token   bool       // a first token (content, reasoning or finish) came
	done    bool       // "data: [DONE]" came
}

// complete reports whether the reply is whole: [DONE] or a finish_reason.
func (r *streamResult) complete() bool { return r.done || r.finish != "" }

// decodeStream reads chat.completion.chunk events from body into res until
// [DONE] or the end of the body. onFirst is called once, at the first
// token; onDelta (may be nil) gets every non-empty content delta of choice
// 0, in order. It returns nil when the reply is complete; errIncomplete, a
// read error, *malformedError, *serverError or *callbackError otherwise.
// A read error after a finish_reason is not a failure: the reply is whole.
func decodeStream(body io.Reader, res *streamResult, onFirst func(), onDelta func(string) error) error {
	sr := newSSEReader(body)
	for {
		ev, err := sr.Next()
		switch {
		case err == nil:
		case errors.Is(err, io.EOF):
			if res.complete() {
				return nil
			}
			return errIncomplete
		case errors.Is(err, errLineTooLong):
			return &malformedError{err}
		default:
			if res.finish != "" {
				return nil
			}
			return err
		}
		if err := res.event(ev, onFirst, onDelta); err != nil {
			return err
		}
		if res.done {
			return nil
		}
	}
}

// event applies one Server-Sent Event: "[DONE]", an error event, or one or
// more JSON chunks (several when a server left out the blank lines between
// events).
func (r *streamResult) event(ev sseEvent, onFirst func(), onDelta func(string) error) error {
	data := strings.TrimSpace(ev.Data)
	if ev.Event == "error" {
		return &serverError{openaihttp.ErrorMessage([]byte(data))}
	}
	if data == "[DONE]" {
		r.done = true
		return nil
	}
	done := false
	if rest, ok := strings.CutSuffix(data, "\n[DONE]"); ok {
		data, done = rest, true
	}
	dec := json.NewDecoder(strings.NewReader(data))
	for {
		var c wireChunk
		err := dec.Decode(&c)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return &malformedError{fmt.Errorf("stream event %q: %w", openaihttp.Shorten(data), err)}
		}
		if err := r.chunk(&c, onFirst, onDelta); err != nil {
			return err
		}
	}
	r.done = r.done || done
	return nil
}

// chunk applies one chat.completion.chunk.
func (r *streamResult) chunk(c *wireChunk, onFirst func(), onDelta func(string) error) error {
	if msg := openaihttp.ErrorField(c.Error); msg != "" {
		return &serverError{msg}
	}
	if c.Model != "" {
		r.model = c.Model
	}
	if c.Usage != nil {
		r.usage = c.Usage
	}
	for _, ch := range c.Choices {
		if ch.Index != 0 {
			continue // longmem asks for one choice
		}
		text := ch.Delta.content()
		finished := ch.FinishReason != nil && *ch.FinishReason != ""
		if !r.token && (text != "" || ch.Delta.hasReasoning() || finished) {
			r.token = true
			if onFirst != nil {
				onFirst()
			}
		}
		if text != "" {
			r.content.WriteString(text)
			if onDelta != nil {
				if err := onDelta(text); err != nil {
					return &callbackError{err}
				}
			}
		}
		if finished {
			r.finish = *ch.FinishReason
		}
	}
	return nil
}

// decodeResponse decodes a non-streaming chat.completion.
func decodeResponse(raw []byte) (ChatResponse, error) {
	var w wireResponse
	if err := json.Unmarshal(raw, &w); err != nil {
		return ChatResponse{}, &malformedError{err}
	}
	for _, ch := range w.Choices {
		if ch.Index != 0 {
			continue
		}
		resp := ChatResponse{Content: ch.Message.content(), Model: w.Model, Usage: w.Usage.usage()}
		if ch.FinishReason != nil {
			resp.FinishReason = *ch.FinishReason
		}
		return resp, nil
	}
	if msg := openaihttp.ErrorField(w.Error); msg != "" {
		return ChatResponse{}, &serverError{msg}
	}
	return ChatResponse{}, &malformedError{errNoChoices}
}
