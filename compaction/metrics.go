package compaction

import (
	"fmt"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the worker's Prometheus collectors, registered on
// Deps.Registerer (never the global registry).
type metrics struct {
	lagMax      prometheus.Gauge
	lag         prometheus.Histogram
	written     *prometheus.CounterVec // level, producer
	latency     prometheus.Histogram
	failures    *prometheus.CounterVec // reason
	runs        *prometheus.CounterVec // outcome
	mu          sync.Mutex
	lagByConv   map[convKey]int // conversations with a lag > 0
	lagMaxValue int
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		lagMax: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "longmem_compaction_lag_turns_max",
			Help: "Largest compaction lag of any conversation: turns older than the recent window not yet covered by a level-0 summary, as last measured.",
		}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "longmem_compaction_lag_turns",
			Help:    "Compaction lag of a conversation in turns when the worker takes it up (for quantiles such as p99).",
			Buckets: []float64{0, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000},
		}),
		written: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "longmem_compaction_summaries_written_total",
			Help: "Summaries written (added or rebuilt), by level and producer.",
		}, []string{"level", "producer"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "longmem_compaction_summarize_duration_seconds",
			Help:    "Latency of one Summarize call in seconds (fallbacks included).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120},
		}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "longmem_compaction_summarizer_failures_total",
			Help: "Summaries the configured summarizer could not write (the extractive fallback did), by reason: error, malformed, empty, too_long.",
		}, []string{"reason"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "longmem_compaction_runs_total",
			Help: "Compaction runs of one conversation, by outcome: ok, error, not_found, unavailable (the storage was; compaction pauses).",
		}, []string{"outcome"}),
		lagByConv: map[convKey]int{},
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.lagMax, m.lag, m.written, m.latency, m.failures, m.runs} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("compaction: register metrics: %w", err)
			}
		}
	}
	return m, nil
}

// setLag records a conversation's current lag and updates the max gauge.
func (m *metrics) setLag(k convKey, lag int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	old := m.lagByConv[k]
	if lag > 0 {
		m.lagByConv[k] = lag
	} else {
		delete(m.lagByConv, k)
	}
	switch {
	case lag >= m.lagMaxValue:
		m.lagMaxValue = lag
	case old == m.lagMaxValue: // the max may have shrunk
		m.lagMaxValue = 0
		for _, v := range m.lagByConv {
			m.lagMaxValue = max(m.lagMaxValue, v)
		}
	}
	m.lagMax.Set(float64(m.lagMaxValue))
}

func (m *metrics) wrote(level int, producer string) {
	m.written.WithLabelValues(strconv.Itoa(level), producer).Inc()
}
