package api

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

// Limits bound what one API key, and one tenant, may ask of the server, and
// how much heavy work runs at once. The zero value limits no rate and
// bounds concurrency by the defaults below.
type Limits struct {
	// RequestsPerSecond refills a token bucket per API key and one per
	// tenant (all its keys together) holding RequestsBurst requests; an
	// authenticated request takes one from each, else it is refused with
	// 429 and Retry-After. 0: no request limit.
	RequestsPerSecond float64 `yaml:"requests_per_second" json:"requests_per_second,omitempty"`
	// RequestsBurst is the buckets' size (0: RequestsPerSecond rounded up,
	// at least 1).
	RequestsBurst int `yaml:"requests_burst" json:"requests_burst,omitempty"`
	// TurnsPerSecond and TurnsBurst are the same for turns appended (each
	// turn of a batch counts; a batch larger than the burst passes when
	// the buckets are full and leaves them in debt). 0: no turn limit.
	TurnsPerSecond float64 `yaml:"turns_per_second" json:"turns_per_second,omitempty"`
	TurnsBurst     int     `yaml:"turns_burst" json:"turns_burst,omitempty"`
	// MaxContext bounds the context assemblies (POST …/context) running at
	// once (0: DefaultMaxContext); MaxChat the chat calls (…/chat,
	// /v1/chat/completions), which mostly wait for the backend (0:
	// DefaultMaxChat). A request waits at most QueueTimeout for a slot
	// (0: DefaultQueueTimeout), then is answered 503 "overloaded" with
	// Retry-After.
	MaxContext   int           `yaml:"max_context" json:"max_context,omitempty"`
	MaxChat      int           `yaml:"max_chat" json:"max_chat,omitempty"`
	QueueTimeout time.Duration `yaml:"queue_timeout" json:"queue_timeout,omitempty"`
}

// Defaults of Limits.
const (
	DefaultMaxChat      = 64
	DefaultQueueTimeout = 2 * time.Second
)

// DefaultMaxContext is 4 assemblies per CPU: an assembly is CPU work.
func DefaultMaxContext() int { return 4 * runtime.GOMAXPROCS(0) }

// Validate reports limits that cannot work.
func (l Limits) Validate() error {
	for _, f := range []struct {
		name string
		v    float64
	}{
		{"requests_per_second", l.RequestsPerSecond}, {"requests_burst", float64(l.RequestsBurst)},
		{"turns_per_second", l.TurnsPerSecond}, {"turns_burst", float64(l.TurnsBurst)},
		{"max_context", float64(l.MaxContext)}, {"max_chat", float64(l.MaxChat)},
		{"queue_timeout", float64(l.QueueTimeout)},
	} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) || f.v < 0 {
			return fmt.Errorf("api: limits.%s is %v; want 0 (default) or more", f.name, f.v)
		}
	}
	return nil
}

func (l Limits) withDefaults() Limits {
	if l.RequestsBurst == 0 {
		l.RequestsBurst = max(1, int(math.Ceil(l.RequestsPerSecond)))
	}
	if l.TurnsBurst == 0 {
		l.TurnsBurst = max(1, int(math.Ceil(l.TurnsPerSecond)))
	}
	if l.MaxContext == 0 {
		l.MaxContext = DefaultMaxContext()
	}
	if l.MaxChat == 0 {
		l.MaxChat = DefaultMaxChat
	}
	if l.QueueTimeout == 0 {
		l.QueueTimeout = DefaultQueueTimeout
	}
	return l
}

// rateLimitedError: a key or tenant over its rate (429).
type rateLimitedError struct {
	what       string // "requests" or "turns"
	retryAfter time.Duration
}

func (e *rateLimitedError) Error() string {
	return fmt.Sprintf("too many %s for this API key or tenant; retry after %s", e.what, retryAfterSeconds(e.retryAfter)+"s")
}

// overloadedError: no slot for heavy work within the queue timeout (503).
type overloadedError struct{ class string }

func (e *overloadedError) Error() string {
	return fmt.Sprintf("the server is busy with other %s requests; retry shortly", e.class)
}

// retryAfterSeconds is d as a Retry-After value: whole seconds, rounded
// up, at least 1.
func retryAfterSeconds(d time.Duration) string {
	return fmt.Sprint(max(1, int64(math.Ceil(d.Seconds()))))
}

// buckets are token buckets by name, all of one rate and size, refilled
// lazily. The names are API keys' hashes and tenants: bounded by the
// configuration. Safe for concurrent use.
type buckets struct {
	rate, burst float64
	mu          sync.Mutex
	m           map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newBuckets(rate float64, burst int) *buckets {
	if rate == 0 {
		return nil // unlimited
	}
	return &buckets{rate: rate, burst: float64(burst), m: map[string]*bucket{}}
}

// take takes n tokens from the bucket of every name at time now, or from
// none: then it returns how long until all could give them. A request for
// more than the burst passes when the buckets are full (leaving them in
// debt), so that no batch is refused forever. A nil *buckets gives all.
func (b *buckets) take(now time.Time, n float64, names ...string) (time.Duration, bool) {
	if b == nil {
		return 0, true
	}
	need := min(n, b.burst)
	b.mu.Lock()
	defer b.mu.Unlock()
	var wait time.Duration
	for _, name := range names {
		bk := b.refill(name, now)
		if bk.tokens < need {
			wait = max(wait, time.Duration((need-bk.tokens)/b.rate*float64(time.Second)))
		}
	}
	if wait > 0 {
		return wait, false
	}
	for _, name := range names {
		b.m[name].tokens -= n
	}
	return 0, true
}

func (b *buckets) refill(name string, now time.Time) *bucket {
	bk, ok := b.m[name]
	if !ok {
		bk = &bucket{tokens: b.burst, at: now}
		b.m[name] = bk
	}
	if el := now.Sub(bk.at); el > 0 {
		bk.tokens = min(b.burst, bk.tokens+el.Seconds()*b.rate)
		bk.at = now
	}
	return bk
}

// limiter applies Limits.
type limiter struct {
	requests, turns *buckets
	context, chat   chan struct{} // semaphores
	queueTimeout    time.Duration
}

func newLimiter(l Limits) *limiter {
	return &limiter{
		requests:     newBuckets(l.RequestsPerSecond, l.RequestsBurst),
		turns:        newBuckets(l.TurnsPerSecond, l.TurnsBurst),
		context:      make(chan struct{}, l.MaxContext),
		chat:         make(chan struct{}, l.MaxChat),
		queueTimeout: l.QueueTimeout,
	}
}

// bucketNames are the buckets a request draws from: its key's and its
// tenant's ("key:" and "tenant:" keep the two apart).
func bucketNames(c echo.Context) []string {
	key, _ := c.Get(ctxKeyID).(string)
	return []string{"key:" + key, "tenant:" + tenant(c)}
}

// admitRequest takes one request token for c's key and tenant.
func (s *Server) admitRequest(c echo.Context) error {
	if wait, ok := s.limits.requests.take(s.deps.Clock(), 1, bucketNames(c)...); !ok {
		s.metrics.rateLimited.WithLabelValues("requests").Inc()
		return &rateLimitedError{what: "requests", retryAfter: wait}
	}
	return nil
}

// admitTurns takes n turn tokens for c's key and tenant.
func (s *Server) admitTurns(c echo.Context, n int) error {
	if wait, ok := s.limits.turns.take(s.deps.Clock(), float64(n), bucketNames(c)...); !ok {
		s.metrics.rateLimited.WithLabelValues("turns").Inc()
		return &rateLimitedError{what: "turns", retryAfter: wait}
	}
	return nil
}

// boundContext and boundChat run the handler in one of the class's slots,
// waiting at most the queue timeout (and no longer than the client).
func (s *Server) boundContext(next echo.HandlerFunc) echo.HandlerFunc {
	return s.bounded("context", s.limits.context, next)
}

func (s *Server) boundChat(next echo.HandlerFunc) echo.HandlerFunc {
	return s.bounded("chat", s.limits.chat, next)
}

func (s *Server) bounded(class string, slots chan struct{}, next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx, cancel := context.WithTimeout(c.Request().Context(), s.limits.queueTimeout)
		defer cancel()
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			if err := c.Request().Context().Err(); err != nil {
				return err // the client left while queued
			}
			s.metrics.overloaded.WithLabelValues(class).Inc()
			return &overloadedError{class: class}
		}
		s.metrics.inflight.WithLabelValues(class).Inc()
		defer func() {
			s.metrics.inflight.WithLabelValues(class).Dec()
			<-slots
		}()
		return next(c)
	}
}
