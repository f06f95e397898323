// Package openaihttp is the HTTP core shared by longmem's clients of
// OpenAI-compatible servers (chat completions in bots/llm, embeddings in
// retrieval): endpoint URLs, redaction of credentials, retry waits with
// backoff and jitter, error bodies, size-limited reads, and an HTTP client
// that follows no redirect. It imports nothing of longmem.
package openaihttp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Endpoint is the URL of path ("chat/completions", "embeddings") under
// baseURL: after a final version segment ("/v1", "/v4", "/api/v3") it is
// appended as is, else after "/v1".
func Endpoint(baseURL, path string) string {
	base := strings.TrimRight(baseURL, "/")
	last := base[strings.LastIndexByte(base, '/')+1:]
	if isVersion(last) {
		return base + "/" + path
	}
	return base + "/v1/" + path
}

// isVersion reports whether s is "v" followed by digits.
func isVersion(s string) bool {
	if len(s) < 2 || s[0] != 'v' {
		return false
	}
	for _, r := range s[1:] {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// RedactedURL is raw without a password, for errors and printing.
func RedactedURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// Redacted is what a secret prints as.
const Redacted = "[REDACTED]"

// Redact is Redacted for a set secret, "" for none.
func Redact(secret string) string {
	if secret == "" {
		return ""
	}
	return Redacted
}

// NoRedirects returns a copy of c (nil: a new client) that follows no
// redirect: a 3xx comes back as the response, which the callers treat as
// a failed, not retried, call. A backend that redirects would otherwise
// receive the prompt at, and (same host) send the API key to, wherever it
// points — outside the configured base URL and the bots' allow-list.
func NoRedirects(c *http.Client) *http.Client {
	var cp http.Client
	if c != nil {
		cp = *c
	}
	cp.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &cp
}

// Backoff is the wait before retry n (n ≥ 0): base doubled n times, at
// most max, its upper half jittered so that clients do not retry in step.
func Backoff(n int, base, max time.Duration) time.Duration {
	d := min(base<<min(n, 10), max)
	return d/2 + rand.N(d/2+1)
}

// RetryAfter parses a Retry-After header in seconds, at most max (HTTP
// dates, negative and malformed values are 0).
func RetryAfter(h string, max time.Duration) time.Duration {
	if h == "" {
		return 0
	}
	s, err := strconv.Atoi(strings.TrimSpace(h))
	if err != nil || s < 0 {
		return 0
	}
	return min(time.Duration(min(s, 3600))*time.Second, max)
}

// Sleep waits d or until ctx is done (then it returns ctx.Err()).
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ErrTooLarge: a response body over its size limit.
var ErrTooLarge = errors.New("response too large")

// ReadAll reads r to its end, failing with ErrTooLarge (wrapped) past max
// bytes.
func ReadAll(r io.Reader, max int64) ([]byte, error) {
	raw, err := io.ReadAll(io.LimitReader(r, max+1))
	if err == nil && int64(len(raw)) > max {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrTooLarge, max)
	}
	return raw, err
}

// MaxErrorBody is how much of a non-2xx body is read for its message.
const MaxErrorBody = 64 << 10

// FailureMessage says why a non-2xx response failed: for a redirect, that
// it was not followed and where it pointed (without credentials); else the
// message of its body (read up to MaxErrorBody), see ErrorMessage.
func FailureMessage(resp *http.Response) (string, error) {
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		to := resp.Header.Get("Location")
		if to != "" {
			to = " to " + RedactedURL(to)
		}
		return "the server redirected" + to + "; redirects are not followed: set the base URL to the final address", nil
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, MaxErrorBody))
	return ErrorMessage(raw), err
}

// ErrorMessage extracts the message of an error body in the shapes
// OpenAI-compatible servers use: {"error":{"message":…}}, {"error":"…"},
// {"message":"…"}, {"detail":…}; else the body itself, shortened.
func ErrorMessage(raw []byte) string {
	var shape struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
		Detail  json.RawMessage `json:"detail"`
	}
	if json.Unmarshal(raw, &shape) == nil {
		if msg := ErrorField(shape.Error); msg != "" {
			return msg
		}
		if shape.Message != "" {
			return shape.Message
		}
		if len(shape.Detail) > 0 && string(shape.Detail) != "null" {
			var s string
			if json.Unmarshal(shape.Detail, &s) == nil {
				return s
			}
			return Shorten(string(shape.Detail))
		}
	}
	return Shorten(strings.TrimSpace(string(raw)))
}

// ErrorField is the message of an "error" member: an object with a
// message, or a string; "" when absent or null.
func ErrorField(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var obj struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(raw, &obj) == nil && obj.Message != "" {
		return obj.Message
	}
	var s string
	if json.Unmarshal(raw, &s) == nil && s != "" {
		return s
	}
	return Shorten(string(raw))
}

// maxMessage is the longest message Shorten keeps, in bytes.
const maxMessage = 512

// Shorten cuts s to maxMessage bytes at a character boundary, marking the
// cut with "…".
func Shorten(s string) string {
	if len(s) <= maxMessage {
		return s
	}
	cut := maxMessage
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// ScrubURLError keeps a transport error but drops url.Error's copy of the
// URL (which may hold credentials and which the caller names already).
func ScrubURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
