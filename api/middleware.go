package api

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// Keys of values kept on the echo.Context.
const (
	ctxRequestID = "longmem.request_id"
	ctxTenant    = "longmem.tenant"
	ctxKeyID     = "longmem.key_id" // the API key's SHA-256, hex: its rate bucket
)

// requestID is the request's id (set by withRequestID).
func requestID(c echo.Context) string {
	id, _ := c.Get(ctxRequestID).(string)
	return id
}

// tenant is the tenant the request's API key belongs to ("" without keys).
func tenant(c echo.Context) string {
	t, _ := c.Get(ctxTenant).(string)
	return t
}

// withRequestID takes the client's X-Request-ID when it is short and
// printable, else makes one, and echoes it in the response.
func (s *Server) withRequestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Request().Header.Get(echo.HeaderXRequestID)
		if !printableASCII(id, 128) {
			var b [16]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		c.Set(ctxRequestID, id)
		c.Response().Header().Set(echo.HeaderXRequestID, id)
		return next(c)
	}
}

// observe writes the response of a failed handler through the error handler
// (so the status is known here), then counts the request, records its
// latency by route template and logs it at debug level.
func (s *Server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		elapsed := time.Since(start)
		route := c.Path()
		if !s.known[route] {
			route = "unmatched"
		}
		req := c.Request()
		status := c.Response().Status
		code := strconv.Itoa(status)
		s.metrics.requests.WithLabelValues(req.Method, route, code).Inc()
		s.metrics.duration.WithLabelValues(req.Method, route, code).Observe(elapsed.Seconds())
		if s.deps.Logger.Enabled(req.Context(), slog.LevelDebug) {
			attrs := []slog.Attr{
				slog.String("request_id", requestID(c)),
				slog.String("method", req.Method),
				slog.String("route", route),
				slog.String("path", req.URL.Path),
				slog.Int("status", status),
				slog.Int64("bytes", c.Response().Size),
				slog.Duration("duration", elapsed),
				slog.String("remote", c.RealIP()),
			}
			if err != nil {
				attrs = append(attrs, slog.String("error", err.Error()))
			}
			s.deps.Logger.LogAttrs(req.Context(), slog.LevelDebug, "request", attrs...)
		}
		return nil
	}
}

// recoverPanic turns a handler's panic into a 500 and logs the stack.
func (s *Server) recoverPanic(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			r := recover()
			if r == nil {
				return
			}
			if r == http.ErrAbortHandler {
				panic(r)
			}
			stack := make([]byte, 8<<10)
			stack = stack[:runtime.Stack(stack, false)]
			s.deps.Logger.Error("panic in handler",
				"request_id", requestID(c), "route", c.Path(), "panic", fmt.Sprint(r), "stack", string(stack))
			err = fmt.Errorf("panic: %v", r)
		}()
		return next(c)
	}
}

// limitBody caps the request body at Config.MaxBodyBytes; reading past it
// fails with *http.MaxBytesError (413).
func (s *Server) limitBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if req.ContentLength > s.cfg.MaxBodyBytes {
			return tooLarge("request body is %d bytes; the limit is %d", req.ContentLength, s.cfg.MaxBodyBytes)
		}
		req.Body = http.MaxBytesReader(c.Response(), req.Body, s.cfg.MaxBodyBytes)
		return next(c)
	}
}

// authenticate resolves "Authorization: Bearer KEY" to the key's tenant
// (with no keys configured every request belongs to the tenant ""), then
// takes a token from the key's and the tenant's request buckets (429 when
// either is empty, see Limits).
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if len(s.keys) == 0 {
			c.Set(ctxTenant, "")
			if err := s.admitRequest(c); err != nil {
				return err
			}
			return next(c)
		}
		h := c.Request().Header.Get(echo.HeaderAuthorization)
		if h == "" {
			return &unauthorizedError{msg: `missing Authorization header; want "Authorization: Bearer KEY"`}
		}
		scheme, key, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(key) == "" {
			return &unauthorizedError{msg: `malformed Authorization header; want "Authorization: Bearer KEY"`}
		}
		sum := sha256.Sum256([]byte(strings.TrimSpace(key)))
		t, ok := s.keys[sum]
		if !ok {
			return &unauthorizedError{msg: "unknown API key"}
		}
		c.Set(ctxTenant, t)
		c.Set(ctxKeyID, hex.EncodeToString(sum[:]))
		if err := s.admitRequest(c); err != nil {
			return err
		}
		return next(c)
	}
}

// hashKeys indexes keys by their SHA-256, so that looking a key up does not
// compare secrets byte by byte.
func hashKeys(keys []Key) map[[32]byte]string {
	m := make(map[[32]byte]string, len(keys))
	for _, k := range keys {
		m[sha256.Sum256([]byte(k.Key))] = k.Tenant
	}
	return m
}

// printableASCII reports whether s is 1..max bytes of visible ASCII.
func printableASCII(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
