package replay

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestProgressShowsETA(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	now := t0
	var buf bytes.Buffer
	p := newProgressAt(&buf, 4, func() time.Time { return now })

	now = t0.Add(10 * time.Second)
	p.step("conv 1/2")
	require.Equal(t, "\r[#######.......................] 1/4 questions  conv 1/2  ETA 30s   ", buf.String(),
		"a quarter done in 10 s: 30 s to go")

	buf.Reset()
	now = now.Add(50 * time.Millisecond)
	p.step("")
	require.Empty(t, buf.String(), "no redraw within 100 ms of the last")

	buf.Reset()
	now = t0.Add(20 * time.Second)
	p.setLabel("conv 2/2 ingest")
	p.step("")
	require.Equal(t, "\r[######################........] 3/4 questions  conv 2/2 ingest  ETA 7s   ", buf.String(),
		"three quarters in 20 s: 6.7 s to go, rounded to the second")

	buf.Reset()
	now = now.Add(time.Millisecond)
	p.step("conv 2/2")
	require.Equal(t, "\r[##############################] 4/4 questions  conv 2/2  ETA 0s   ", buf.String(),
		"the last step is always drawn")

	buf.Reset()
	p.done()
	require.Equal(t, "\r"+strings.Repeat(" ", 90)+"\r", buf.String(), "the bar is wiped before the summary table")

	// Without a writer nothing is drawn (and nothing fails).
	q := newProgressAt(nil, 2, func() time.Time { return now })
	q.step("x")
	q.done()
}

func TestSummaryTable(t *testing.T) {
	acc := func(f float64) *float64 { return &f }
	m := func(recall, aic, p50, p99, tokens, prefix float64, j *float64, cats map[string]float64) StrategyStats {
		return StrategyStats{Metrics: Metrics{Questions: 5, EvidenceRecall: recall, AnswerInContext: aic, P50Ms: p50, P99Ms: p99,
			MeanUsedTokens: tokens, PrefixRatio: prefix, Accuracy: j, Judged: 4},
			ByCategory: cats, Categories: map[string]Metrics{"1": {}, "2": {}}}
	}
	rep := Report{Dataset: "locomo", Conversations: 2, Turns: 16, Questions: 6, Embedder: "static", Summaries: true, Seconds: 1.25,
		BackendModel: "m", JudgeModel: "m", Version: "longmem v1.2.3 (commit abc) go1.26",
		Strategies: []string{"longmem", "longmem-nosum", "recency", "lexical", "dense", "full-context"},
		Budgets: []BudgetReport{{BudgetTokens: 1000, Strategies: map[string]StrategyStats{
			"longmem":       m(0.9, 0.95, 1.5, 3.25, 990, 0.125, acc(0.75), map[string]float64{"1": 0.8, "2": 1}),
			"longmem-nosum": m(0.85, 0.9, 1, 2, 980, 0.1, acc(0.5), map[string]float64{"1": 0.7, "2": 1}),
			"recency":       m(0.2, 0.3, 0.01, 0.02, 995, 0.9, acc(0.25), map[string]float64{"1": 0.1, "2": 0.3}),
			"lexical":       m(0.7, 0.8, 0.5, 0.75, 970, 0.05, nil, map[string]float64{"1": 0.6, "2": 0.8}),
			"dense":         m(0.6, 0.65, 0.25, 0.5, 960, 0, acc(0.5), map[string]float64{"1": 0.5, "2": 0.7}),
			"full-context":  {Metrics: Metrics{NotApplicable: 5}},
		}}}}
	lines := strings.Split(strings.TrimSuffix(Summary(rep), "\n"), "\n")
	require.Equal(t, []string{
		"locomo: 2 conversations, 16 turns, 6 questions (5 scored; 1 skipped: their evidence points to no turn), embedder static, summaries on, 1.2s",
		"longmem v1.2.3 (commit abc) go1.26",
		"budget  strategy       recall  answer multi-h tempora  p50 ms  p99 ms  tokens  prefix       J",
		"1000    longmem         0.900   0.950   0.800   1.000    1.50    3.25     990   0.125   0.750",
		"1000    longmem-nosum   0.850   0.900   0.700   1.000    1.00    2.00     980   0.100   0.500",
		"1000    recency         0.200   0.300   0.100   0.300    0.01    0.02     995   0.900   0.250",
		"1000    lexical         0.700   0.800   0.600   0.800    0.50    0.75     970   0.050       -",
		"1000    dense           0.600   0.650   0.500   0.700    0.25    0.50     960   0.000   0.500",
		"1000    full-context  n/a (does not fit the backend's window)",
	}, lines)

	// Without a backend there is no J column.
	rep.BackendModel = ""
	header := strings.Split(Summary(rep), "\n")[2]
	require.True(t, strings.HasSuffix(header, "prefix"), header)

	// Other datasets keep their categories as they are; all scored, no note.
	rep.Dataset, rep.Questions, rep.Version = "jsonl", 5, ""
	lines = strings.Split(Summary(rep), "\n")
	require.Equal(t, "jsonl: 2 conversations, 16 turns, 5 questions, embedder static, summaries on, 1.2s", lines[0])
	require.Contains(t, lines[1], "  cat 1   cat 2")
}

func TestCategoryName(t *testing.T) {
	for _, tc := range []struct{ dataset, in, want string }{
		{"locomo", "1", "multi-hop"}, {"locomo", "2", "temporal"}, {"locomo", "3", "open-domain"},
		{"locomo", "4", "single-hop"}, {"locomo", "5", "adversarial"}, {"locomo", "9", "9"},
		{"memdaily", "simple", "simple"}, {"jsonl", "1", "1"},
	} {
		require.Equal(t, tc.want, CategoryName(tc.dataset, tc.in), tc)
	}
}
