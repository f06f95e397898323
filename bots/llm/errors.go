package llm

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Sentinel errors a call's error unwraps to (through *BackendError), for
// the API layer to map to a status code.
var (
	// ErrBackend: the backend answered non-2xx (after the retries), sent a
	// malformed response, or broke the stream mid-way (→ 502).
	ErrBackend = errors.New("llm: backend failed")
	// ErrTimeout: no first token within FirstTokenTimeout, no whole reply
	// within Timeout, or the caller's deadline passed (→ 504).
	ErrTimeout = errors.New("llm: backend timed out")
)

// BackendError is the error of a failed Complete or Stream call. It unwraps
// to Kind (ErrBackend or ErrTimeout) and to Err, the underlying cause when
// there is one (a transport error, context.DeadlineExceeded …).
type BackendError struct {
	// Kind is ErrBackend or ErrTimeout.
	Kind error
	// Status is the HTTP status of the last response, 0 when there was
	// none (connection error, timeout before the headers). A stream that
	// broke after a 200 has Status 200.
	Status int
	// Message says what went wrong: the server's own message (from a
	// {"error":{"message":…}} body or stream event) when it sent one.
	Message string
	// Endpoint is the URL posted to, without credentials.
	Endpoint string
	// Partial is the content received before the failure ("" when none);
	// Stream also returns it as the response's Content.
	Partial string
	// Attempts is how many requests were sent (1 + retries).
	Attempts int
	// Err is the underlying cause, or nil.
	Err error

	retryable  bool          // worth another attempt (no token came yet)
	retryAfter time.Duration // the server's Retry-After, 0 if none
}

func (e *BackendError) Error() string {
	kind := "backend error"
	if e.Kind == ErrTimeout {
		kind = "timeout"
	}
	s := fmt.Sprintf("llm: POST %s: %s", e.Endpoint, kind)
	if e.Status != 0 {
		s += fmt.Sprintf(": %d %s", e.Status, http.StatusText(e.Status))
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil && (e.Message == "" || e.Message != e.Err.Error()) {
		s += ": " + e.Err.Error()
	}
	if e.Partial != "" {
		s += fmt.Sprintf(" (after %d bytes of content)", len(e.Partial))
	}
	if e.Attempts > 1 {
		s += fmt.Sprintf(" (%d attempts)", e.Attempts)
	}
	return s
}

// Unwrap returns Kind and Err, so errors.Is matches ErrBackend or
// ErrTimeout and the cause.
func (e *BackendError) Unwrap() []error {
	errs := make([]error, 0, 2)
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}
