package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/longmem/longmem/bots"
	"github.com/longmem/longmem/bots/llm"
	"github.com/longmem/longmem/memory"
)

// errorBody is the JSON of every error response:
// {"error":{"code":"…","message":"…"}}.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Field is the JSON path of the offending input field of a validation
	// error ("name", "lorebook.entries[2].keys"), when one is known.
	Field string `json:"field,omitempty"`
}

// Error kinds of the HTTP layer. Handlers return them (or store errors);
// handleError alone turns a kind into a status code.

// tooLargeError: a body or a turn over its configured limit (413).
type tooLargeError struct{ msg string }

func (e *tooLargeError) Error() string { return e.msg }

func tooLarge(format string, args ...any) error {
	return &tooLargeError{msg: fmt.Sprintf(format, args...)}
}

// unauthorizedError: a missing or unknown API key (401).
type unauthorizedError struct{ msg string }

func (e *unauthorizedError) Error() string { return e.msg }

// RetryAfterUnavailable is the Retry-After, in seconds, of a 503 answered
// because the storage is unavailable: long enough for a restarted Redis to
// accept connections, short enough not to stall a chat.
const RetryAfterUnavailable = 2

// unavailableMessage is the client's message of a 503 "unavailable": the
// cause (which names a storage address or file) goes to the log only.
const unavailableMessage = "the storage is unavailable (not reachable, loading, timing out or out of space); retry after Retry-After seconds — an append retried with the same Idempotency-Key is stored at most once"

// storeError gives a store error the words a client needs — which thing is
// missing or already exists — while its kind (errors.Is) decides the status.
type storeError struct {
	err      error
	notFound string // message when errors.Is(err, memory.ErrNotFound)
	conflict string // message when errors.Is(err, memory.ErrConflict)
	// precondition is the message when errors.Is(err, bots.ErrPrecondition).
	precondition string
}

func (e *storeError) Error() string { return e.err.Error() }
func (e *storeError) Unwrap() error { return e.err }

// conversationErr describes err as being about conversation id.
func conversationErr(err error, id string) error {
	if err == nil {
		return nil
	}
	return &storeError{
		err:      err,
		notFound: fmt.Sprintf("conversation %q not found", id),
		conflict: fmt.Sprintf("conversation %q already exists", id),
	}
}

// turnErr describes err as being about turn seq of conversation id.
func turnErr(err error, id string, seq int64) error {
	if err == nil {
		return nil
	}
	return &storeError{
		err:      err,
		notFound: fmt.Sprintf("turn %d of conversation %q not found", seq, id),
	}
}

// appendErr describes an append's error: a conflict there is always a
// reused idempotency key.
func appendErr(err error, id, key string) error {
	if err == nil {
		return nil
	}
	return &storeError{
		err:      err,
		notFound: fmt.Sprintf("conversation %q not found", id),
		conflict: fmt.Sprintf("Idempotency-Key %q was already used with a different request", key),
	}
}

// classify maps an error to its status, code and client-facing message.
// This is the only place where error kinds become status codes.
func classify(err error) (status int, code, msg string) {
	var (
		se  *storeError
		ie  *memory.InvalidError
		tl  *tooLargeError
		mbe *http.MaxBytesError
		ue  *unauthorizedError
		rl  *rateLimitedError
		oe  *overloadedError
		he  *echo.HTTPError
	)
	errors.As(err, &se)
	switch {
	// Backend errors first: a timeout also unwraps to
	// context.DeadlineExceeded.
	case errors.Is(err, llm.ErrTimeout):
		return http.StatusGatewayTimeout, "backend_timeout", err.Error()
	case errors.Is(err, llm.ErrBackend):
		return http.StatusBadGateway, "backend_error", err.Error()
	case errors.Is(err, bots.ErrNoBackend):
		return http.StatusServiceUnavailable, "no_backend", err.Error()
	case errors.As(err, &tl):
		return http.StatusRequestEntityTooLarge, "too_large", tl.msg
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("request body larger than %d bytes", mbe.Limit)
	case errors.As(err, &ue):
		return http.StatusUnauthorized, "unauthorized", ue.msg
	case errors.As(err, &rl):
		return http.StatusTooManyRequests, "rate_limited", rl.Error()
	case errors.As(err, &oe):
		return http.StatusServiceUnavailable, "overloaded", oe.Error()
	case errors.Is(err, memory.ErrUnavailable):
		return http.StatusServiceUnavailable, "unavailable", unavailableMessage
	case errors.As(err, &ie):
		return http.StatusBadRequest, "invalid_request", ie.Error()
	case errors.Is(err, memory.ErrInvalid):
		return http.StatusBadRequest, "invalid_request", err.Error()
	case errors.Is(err, bots.ErrPrecondition):
		if se != nil && se.precondition != "" {
			return http.StatusPreconditionFailed, "precondition_failed", se.precondition
		}
		return http.StatusPreconditionFailed, "precondition_failed", err.Error()
	case errors.Is(err, memory.ErrNotFound):
		if se != nil && se.notFound != "" {
			return http.StatusNotFound, "not_found", se.notFound
		}
		return http.StatusNotFound, "not_found", err.Error()
	case errors.Is(err, memory.ErrConflict):
		if se != nil && se.conflict != "" {
			return http.StatusConflict, "conflict", se.conflict
		}
		return http.StatusConflict, "conflict", err.Error()
	case errors.As(err, &he):
		msg := http.StatusText(he.Code)
		if s, ok := he.Message.(string); ok && s != "" {
			msg = s
		}
		return he.Code, statusCode(he.Code), msg
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout, "timeout", "the request ran out of time before the storage or backend answered; retry it (with the same Idempotency-Key for an append)"
	case errors.Is(err, context.Canceled):
		// The client went away: nginx's 499, written to nobody, counted in
		// the metrics as such.
		return statusClientClosed, "canceled", "the request was canceled by the client"
	}
	return http.StatusInternalServerError, "internal", "internal error"
}

// statusClientClosed is the status recorded for a request whose client
// went away before the answer (nginx's 499; no standard code exists).
const statusClientClosed = 499

// statusCode is the error code of a plain HTTP status: "method_not_allowed".
func statusCode(status int) string {
	t := http.StatusText(status)
	if t == "" {
		return "error"
	}
	return strings.ReplaceAll(strings.ToLower(t), " ", "_")
}

// handleError is the echo HTTPErrorHandler: every error response is written
// here, as {"error":{"code":"…","message":"…"}}.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, code, msg := classify(err)
	switch {
	case errors.Is(err, echo.ErrNotFound):
		msg = fmt.Sprintf("no route for %s %s", c.Request().Method, c.Request().URL.Path)
	case errors.Is(err, echo.ErrMethodNotAllowed):
		msg = fmt.Sprintf("method %s is not allowed on %s", c.Request().Method, c.Request().URL.Path)
	}
	if status >= 500 {
		if status == http.StatusInternalServerError {
			msg = fmt.Sprintf("internal error (request id %s)", requestID(c))
		}
		s.deps.Logger.LogAttrs(c.Request().Context(), slog.LevelError, "request failed",
			slog.String("request_id", requestID(c)),
			slog.String("method", c.Request().Method),
			slog.String("route", c.Path()),
			slog.Int("status", status),
			slog.Any("error", err))
	}
	switch {
	case status == http.StatusUnauthorized:
		c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="longmem"`)
	case code == "unavailable":
		c.Response().Header().Set(echo.HeaderRetryAfter, strconv.Itoa(RetryAfterUnavailable))
	case code == "overloaded":
		c.Response().Header().Set(echo.HeaderRetryAfter, "1")
	case code == "rate_limited":
		var rl *rateLimitedError
		if errors.As(err, &rl) {
			c.Response().Header().Set(echo.HeaderRetryAfter, retryAfterSeconds(rl.retryAfter))
		}
	}
	var werr error
	if c.Request().Method == http.MethodHead {
		werr = c.NoContent(status)
	} else if openAI, _ := c.Get(ctxOpenAI).(bool); openAI {
		werr = c.JSON(status, newOpenAIError(err, status, code, msg))
	} else {
		var ie *memory.InvalidError
		field := ""
		if status == http.StatusBadRequest && errors.As(err, &ie) {
			field = ie.Field
		}
		werr = c.JSON(status, errorBody{Error: errorDetail{Code: code, Message: msg, Field: field}})
	}
	if werr != nil {
		s.deps.Logger.Debug("writing error response", "request_id", requestID(c), "error", werr)
	}
}
