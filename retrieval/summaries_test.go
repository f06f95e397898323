package retrieval

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/memory"
)

func sum(level int, from, to int64, tokens int) memory.Summary {
	return memory.Summary{Level: level, FromSeq: from, ToSeq: to, Tokens: tokens, Content: fmt.Sprintf("L%d %d-%d", level, from, to)}
}

func names(ss []memory.Summary) []string {
	out := []string{}
	for _, s := range ss {
		out = append(out, s.Content)
	}
	return out
}

func TestSelectSummaries(t *testing.T) {
	cost := func(s memory.Summary) int { return s.Tokens }
	// Level 0 covers 1-100 in four chunks; level 1 covers 1-75; 76-100 only
	// at level 0.
	all := []memory.Summary{
		sum(0, 1, 25, 50), sum(0, 26, 50, 50), sum(0, 51, 75, 50), sum(0, 76, 100, 50),
		sum(1, 1, 75, 60),
	}
	for _, tc := range []struct {
		name   string
		all    []memory.Summary
		maxSeq int64
		budget int
		want   []string
	}{
		{"coarse past, fine recent", all, 100, 110, []string{"L1 1-75", "L0 76-100"}},
		{"refined when room allows", all, 100, 1000, []string{"L0 1-25", "L0 26-50", "L0 51-75", "L0 76-100"}},
		{"oldest dropped when tight", all, 100, 50, []string{"L0 76-100"}},
		{"nothing past the window", all, 80, 1000, []string{"L0 1-25", "L0 26-50", "L0 51-75"}},
		{"no budget", all, 100, 0, nil},
		{"stale never used", []memory.Summary{sum(0, 1, 25, 10), {Level: 0, FromSeq: 26, ToSeq: 50, Tokens: 10, Stale: true, Content: "stale"}, sum(0, 51, 75, 10)},
			100, 1000, []string{"L0 1-25"}},
		{"stale child keeps the parent", []memory.Summary{sum(1, 1, 50, 10), sum(0, 1, 25, 10), {Level: 0, FromSeq: 26, ToSeq: 50, Tokens: 10, Stale: true}},
			100, 1000, []string{"L1 1-50"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := SelectSummaries(tc.all, tc.maxSeq, tc.budget, cost)
			if tc.want == nil {
				require.Empty(t, got)
				return
			}
			require.Equal(t, tc.want, names(got))
			total := 0
			for _, s := range got {
				total += s.Tokens
			}
			require.LessOrEqual(t, total, tc.budget)
		})
	}
}

func TestSelectRelevantSummaries(t *testing.T) {
	cost := func(s memory.Summary) int { return s.Tokens }
	all := []memory.Summary{
		sum(0, 1, 25, 50), sum(0, 26, 50, 50), sum(0, 51, 75, 50), sum(0, 76, 100, 50),
		sum(1, 1, 75, 60), {Level: 0, FromSeq: 101, ToSeq: 120, Tokens: 10, Stale: true, Content: "stale"},
	}
	scores := map[string]float64{"L0 26-50": 3, "L0 76-100": 2, "L1 1-75": 2.5, "L0 1-25": 2, "stale": 9}
	score := func(s memory.Summary) float64 { return scores[s.Content] }
	for _, tc := range []struct {
		name   string
		maxSeq int64
		budget int
		want   []string
	}{
		{"best first, chronological", 100, 100, []string{"L0 26-50", "L0 76-100"}},
		{"an overlapping parent is skipped; ties go to the newer range", 100, 160, []string{"L0 1-25", "L0 26-50", "L0 76-100"}},
		{"what does not fit is passed over", 100, 60, []string{"L0 26-50"}},
		{"nothing past the window, never stale", 80, 1000, []string{"L0 1-25", "L0 26-50"}},
		{"no budget", 100, 10, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := SelectRelevantSummaries(all, tc.maxSeq, tc.budget, cost, score)
			if tc.want == nil {
				require.Empty(t, got)
				return
			}
			require.Equal(t, tc.want, names(got))
		})
	}
	require.Empty(t, SelectRelevantSummaries(all, 100, 1000, cost, func(memory.Summary) float64 { return 0 }), "nothing scores: nil")
}
