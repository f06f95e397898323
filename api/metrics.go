package api

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/longmem/longmem/memory"
	"github.com/longmem/longmem/retrieval"
)

// metrics are the server's Prometheus collectors, registered on the
// Registerer of Deps (never the global registry).
type metrics struct {
	requests      *prometheus.CounterVec   // method, route, code
	duration      *prometheus.HistogramVec // method, route, code; seconds
	storeDuration *prometheus.HistogramVec // op, outcome; seconds
	appendedTurns prometheus.Counter
	appendBatch   prometheus.Histogram   // turns per append call
	rateLimited   *prometheus.CounterVec // limit: requests, turns
	overloaded    *prometheus.CounterVec // class: context, chat
	inflight      *prometheus.GaugeVec   // class: context, chat
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "longmem_http_requests_total",
			Help: "HTTP requests served, by method, route template and status code.",
		}, []string{"method", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "longmem_http_request_duration_seconds",
			Help:    "HTTP request latency in seconds, by method, route template and status code.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"method", "route", "code"}),
		storeDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "longmem_store_duration_seconds",
			Help:    "memory.Store call latency in seconds, by operation and outcome (ok, not_found, conflict, invalid, unavailable, error).",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"op", "outcome"}),
		appendedTurns: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "longmem_append_turns_total",
			Help: "Turns returned by successful appends (idempotent replays included).",
		}),
		appendBatch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "longmem_append_batch_turns",
			Help:    "Turns per successful append call.",
			Buckets: []float64{1, 2, 5, 10, 25, 50, 100, 250, 500, 1000},
		}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "longmem_rate_limited_total",
			Help: "Requests refused with 429 by a key's or tenant's rate limit, by limit (requests, turns).",
		}, []string{"limit"}),
		overloaded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "longmem_overloaded_total",
			Help: "Requests refused with 503 overloaded after waiting the queue timeout for a slot, by class (context, chat).",
		}, []string{"class"}),
		inflight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "longmem_inflight_requests",
			Help: "Requests holding a slot of a bounded class (context, chat).",
		}, []string{"class"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.storeDuration, m.appendedTurns, m.appendBatch, m.rateLimited, m.overloaded, m.inflight} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("api: register metrics: %w", err)
		}
	}
	return m, nil
}

// registerDegraded exposes how many contexts were assembled without the
// index or the embedder (each failed and recall went on without it).
func registerDegraded(reg prometheus.Registerer, a *retrieval.Assembler) error {
	for _, part := range []string{retrieval.PartIndex, retrieval.PartEmbedder} {
		c := prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "longmem_recall_degraded_total",
			Help:        "Contexts assembled without a part of recall that failed (the index or the embedder).",
			ConstLabels: prometheus.Labels{"part": part},
		}, func() float64 { return float64(a.DegradedTotal(part)) })
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("api: register metrics: %w", err)
		}
	}
	return nil
}

// outcome names the kind of a store call's error for metric labels.
func outcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, memory.ErrNotFound):
		return "not_found"
	case errors.Is(err, memory.ErrConflict):
		return "conflict"
	case errors.Is(err, memory.ErrInvalid):
		return "invalid"
	case errors.Is(err, memory.ErrUnavailable):
		return "unavailable"
	}
	return "error"
}

// instrumentedStore times every call to the wrapped store.
type instrumentedStore struct {
	memory.Store
	m *metrics
}

var _ memory.Store = (*instrumentedStore)(nil)

func (s *instrumentedStore) observe(op string, start time.Time, err error) {
	s.m.storeDuration.WithLabelValues(op, outcome(err)).Observe(time.Since(start).Seconds())
}

func (s *instrumentedStore) CreateConversation(ctx context.Context, c memory.Conversation) (memory.Conversation, error) {
	start := time.Now()
	out, err := s.Store.CreateConversation(ctx, c)
	s.observe("create_conversation", start, err)
	return out, err
}

func (s *instrumentedStore) GetConversation(ctx context.Context, tenant, id string) (memory.Conversation, error) {
	start := time.Now()
	out, err := s.Store.GetConversation(ctx, tenant, id)
	s.observe("get_conversation", start, err)
	return out, err
}

func (s *instrumentedStore) ListConversations(ctx context.Context, opts memory.ListOptions) ([]memory.Conversation, error) {
	start := time.Now()
	out, err := s.Store.ListConversations(ctx, opts)
	s.observe("list_conversations", start, err)
	return out, err
}

func (s *instrumentedStore) DeleteConversation(ctx context.Context, tenant, id string) error {
	start := time.Now()
	err := s.Store.DeleteConversation(ctx, tenant, id)
	s.observe("delete_conversation", start, err)
	return err
}

func (s *instrumentedStore) AppendTurns(ctx context.Context, tenant, id string, turns []memory.Turn, opts memory.AppendOptions) ([]memory.Turn, error) {
	start := time.Now()
	out, err := s.Store.AppendTurns(ctx, tenant, id, turns, opts)
	s.observe("append_turns", start, err)
	if err == nil {
		s.m.appendedTurns.Add(float64(len(out)))
		s.m.appendBatch.Observe(float64(len(out)))
	}
	return out, err
}

func (s *instrumentedStore) Turns(ctx context.Context, tenant, id string, afterSeq int64, limit int) ([]memory.Turn, error) {
	start := time.Now()
	out, err := s.Store.Turns(ctx, tenant, id, afterSeq, limit)
	s.observe("turns", start, err)
	return out, err
}

func (s *instrumentedStore) LastTurns(ctx context.Context, tenant, id string, n int) ([]memory.Turn, error) {
	start := time.Now()
	out, err := s.Store.LastTurns(ctx, tenant, id, n)
	s.observe("last_turns", start, err)
	return out, err
}

func (s *instrumentedStore) GetTurn(ctx context.Context, tenant, id string, seq int64) (memory.Turn, error) {
	start := time.Now()
	out, err := s.Store.GetTurn(ctx, tenant, id, seq)
	s.observe("get_turn", start, err)
	return out, err
}

func (s *instrumentedStore) DeleteTurn(ctx context.Context, tenant, id string, seq int64) error {
	start := time.Now()
	err := s.Store.DeleteTurn(ctx, tenant, id, seq)
	s.observe("delete_turn", start, err)
	return err
}

func (s *instrumentedStore) Ping(ctx context.Context) error {
	start := time.Now()
	err := s.Store.Ping(ctx)
	s.observe("ping", start, err)
	return err
}
