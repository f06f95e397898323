package compaction

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

// sampleOf returns the value of the sample of metric name whose labels
// are exactly labels ("k=v" pairs): a counter's or gauge's value, a
// histogram's count. ok is false when there is no such sample.
func sampleOf(t *testing.T, reg *prometheus.Registry, name string, labels ...string) (v float64, ok bool) {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			var got []string
			for _, l := range m.GetLabel() {
				got = append(got, l.GetName()+"="+l.GetValue())
			}
			if fmt.Sprint(got) != fmt.Sprint(labels) {
				continue
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue(), true
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue(), true
			case m.GetHistogram() != nil:
				return float64(m.GetHistogram().GetSampleCount()), true
			}
		}
	}
	return 0, false
}

// bucketsOf returns a histogram's cumulative bucket counts by upper bound.
func bucketsOf(t *testing.T, reg *prometheus.Registry, name string) map[float64]uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		out := map[float64]uint64{}
		for _, b := range mf.GetMetric()[0].GetHistogram().GetBucket() {
			out[b.GetUpperBound()] = b.GetCumulativeCount()
		}
		return out
	}
	t.Fatalf("no histogram %s", name)
	return nil
}

// TestLagMetrics runs two live conversations whose open chunks stay
// uncovered: the lag histogram holds each run's starting lag, the max
// gauge the larger current lag, and it drops as each is compacted.
func TestLagMetrics(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	now := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	live := func(id string, n int) {
		gen := genConversation(uint64(30+n), n)
		for i := range gen { // a minute apart, the last one 5 s ago
			gen[i].CreatedAt = now.Add(-5*time.Second - time.Duration(n-1-i)*time.Minute)
		}
		ingest(t, st, "acme", id, gen)
	}
	live("a", 130) // 30 turns older than the window
	live("b", 230) // 130
	reg := prometheus.NewRegistry()
	w := newWorker(t, st, Config{}, Deps{Registerer: reg, Clock: func() time.Time { return now }})

	lagMax := func() float64 {
		v, ok := sampleOf(t, reg, "longmem_compaction_lag_turns_max")
		require.True(t, ok)
		return v
	}
	require.Zero(t, lagMax())
	ra, err := w.run(ctx, Task{Tenant: "acme", Conversation: "a"}, false)
	require.NoError(t, err)
	rb, err := w.run(ctx, Task{Tenant: "acme", Conversation: "b"}, false)
	require.NoError(t, err)
	require.Equal(t, 30, ra.LagBefore)
	require.Equal(t, 130, rb.LagBefore)
	require.Less(t, rb.Lag, rb.LagBefore, "b's first chunks are folded")
	require.Positive(t, ra.Lag, "the open chunk of a live chat is left")
	require.Positive(t, rb.Lag)
	t.Logf("lag after the runs: a %d, b %d", ra.Lag, rb.Lag)

	// The histogram observed 30 and 130 as the runs began.
	n, ok := sampleOf(t, reg, "longmem_compaction_lag_turns")
	require.True(t, ok)
	require.Equal(t, float64(2), n)
	b := bucketsOf(t, reg, "longmem_compaction_lag_turns")
	require.Equal(t, uint64(0), b[25])
	require.Equal(t, uint64(1), b[50], "30 is in the le=50 bucket")
	require.Equal(t, uint64(1), b[100])
	require.Equal(t, uint64(2), b[250], "130 is in the le=250 bucket")

	require.Equal(t, float64(max(ra.Lag, rb.Lag)), lagMax(), "the gauge is the largest current lag")
	bigger, smaller := "a", rb.Lag
	if rb.Lag > ra.Lag {
		bigger, smaller = "b", ra.Lag
	}
	_, err = w.CompactNow(ctx, "acme", bigger)
	require.NoError(t, err)
	require.Equal(t, float64(smaller), lagMax(), "compacting the most lagging conversation drops the gauge to the other's lag")
	for _, id := range []string{"a", "b"} {
		_, err = w.CompactNow(ctx, "acme", id)
		require.NoError(t, err)
	}
	require.Zero(t, lagMax(), "no conversation lags")
}

// funcSummarizer summarises with a function.
type funcSummarizer func(Input) (Output, error)

func (f funcSummarizer) Summarize(_ context.Context, in Input) (Output, error) { return f(in) }

// TestFailuresByReason: whatever way the configured summarizer fails, the
// extractive one writes the summary and the failure is counted by reason.
func TestFailuresByReason(t *testing.T) {
	tok := testTokenizer()
	for _, tc := range []struct {
		reason string
		sum    Summarizer
	}{
		{ReasonError, funcSummarizer(func(Input) (Output, error) { return Output{}, fmt.Errorf("backend down") })},
		{ReasonEmpty, funcSummarizer(func(Input) (Output, error) { return Output{Content: "  ", Producer: "x"}, nil })},
		{ReasonTooLong, funcSummarizer(func(in Input) (Output, error) {
			return Output{Content: strings.Repeat("word ", in.TargetTokens+10), Producer: "x"}, nil
		})},
		{ReasonMalformed, NewLLM(&cannedCompleter{reply: `{"summary": "cut off`}, "m", tok, nil)},
		{ReasonEmpty, NewLLM(&cannedCompleter{reply: `{"summary": ""}`}, "m", tok, nil)},
	} {
		t.Run(tc.reason, func(t *testing.T) {
			st := openStore(t)
			ingest(t, st, "acme", "c", genConversation(40, 40))
			reg := prometheus.NewRegistry()
			w := newWorker(t, st, Config{KeepRecentTurns: 10}, Deps{Registerer: reg, Summarizer: tc.sum})
			res, err := w.CompactNow(context.Background(), "acme", "c")
			require.NoError(t, err)
			require.NotEmpty(t, res.Written)
			for _, s := range res.Written {
				require.Equal(t, ProducerExtractive, s.Producer)
			}
			v, ok := sampleOf(t, reg, "longmem_compaction_summarizer_failures_total", "reason="+tc.reason)
			require.True(t, ok)
			require.Equal(t, float64(len(res.Written)), v)
			require.Equal(t, v, gathered(t, reg, "longmem_compaction_summarizer_failures_total"), "no other reason counted")
			v, ok = sampleOf(t, reg, "longmem_compaction_summaries_written_total", "level=0", "producer="+ProducerExtractive)
			require.True(t, ok)
			require.Equal(t, float64(len(res.Written)), v)
		})
	}
}
