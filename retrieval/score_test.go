package retrieval

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func seqsOf(cs []Candidate) []int64 {
	out := make([]int64, len(cs))
	for i, c := range cs {
		out[i] = c.Seq
	}
	return out
}

func poolOf(seqs ...int64) map[int64]Candidate {
	p := map[int64]Candidate{}
	for _, s := range seqs {
		p[s] = Candidate{Seq: s, Cost: 10}
	}
	return p
}

func TestRank(t *testing.T) {
	noNeigh := RankConfig{Neighbours: -1, RecencyWeight: -1}
	for _, tc := range []struct {
		name string
		cfg  RankConfig
		hits []Candidate
		pool map[int64]Candidate
		want []int64
	}{
		{"best first", noNeigh,
			[]Candidate{{Seq: 1, Lexical: 2, Cost: 5}, {Seq: 2, Lexical: 5, Cost: 5}, {Seq: 3, Lexical: 3, Cost: 5}},
			poolOf(1, 2, 3), []int64{2, 3, 1}},
		{"ties by seq", noNeigh,
			[]Candidate{{Seq: 9, Lexical: 1, Cost: 5}, {Seq: 4, Lexical: 1, Cost: 5}, {Seq: 6, Lexical: 1, Cost: 5}},
			poolOf(4, 6, 9), []int64{4, 6, 9}},
		{"near-duplicates keep the best", noNeigh,
			[]Candidate{{Seq: 1, Lexical: 2, Key: 7, Cost: 5}, {Seq: 2, Lexical: 3, Key: 7, Cost: 5}, {Seq: 3, Lexical: 1, Cost: 5}},
			poolOf(1, 2, 3), []int64{2, 3}},
		{"value per token", RankConfig{Neighbours: -1, RecencyWeight: -1, CostExponent: 1},
			[]Candidate{{Seq: 1, Lexical: 4, Cost: 100}, {Seq: 2, Lexical: 3, Cost: 10}},
			poolOf(1, 2), []int64{2, 1}},
		{"min score drops noise", RankConfig{Neighbours: -1, RecencyWeight: -1, MinScore: 0.5},
			[]Candidate{{Seq: 1, Lexical: 10, Cost: 5}, {Seq: 2, Lexical: 4, Cost: 5}},
			poolOf(1, 2), []int64{1}},
		{"neighbours follow their hit", RankConfig{Neighbours: 1, NeighbourDecay: 0.5, RecencyWeight: -1},
			[]Candidate{{Seq: 10, Lexical: 8, Cost: 5}, {Seq: 30, Lexical: 6, Cost: 5}},
			poolOf(9, 10, 11, 29, 30), []int64{10, 30, 9, 11, 29}},
		{"clusters rise together (sum)", RankConfig{Neighbours: 1, NeighbourDecay: 0.5, RecencyWeight: -1},
			[]Candidate{{Seq: 10, Lexical: 6, Cost: 5}, {Seq: 11, Lexical: 6, Cost: 5}, {Seq: 30, Lexical: 7, Cost: 5}},
			poolOf(10, 11, 30), []int64{10, 11, 30}},
		{"max smoothing takes the best hit only", RankConfig{Neighbours: 1, NeighbourDecay: 0.5, RecencyWeight: -1, Smoothing: "max"},
			[]Candidate{{Seq: 10, Lexical: 6, Cost: 5}, {Seq: 11, Lexical: 6, Cost: 5}, {Seq: 30, Lexical: 7, Cost: 5}},
			poolOf(10, 11, 30), []int64{30, 10, 11}},
		{"recency breaks a tie towards the newer", RankConfig{Neighbours: -1, RecencyWeight: 0.5, RecencyHalfLife: 10},
			[]Candidate{{Seq: 5, Lexical: 1, Cost: 5}, {Seq: 95, Lexical: 1, Cost: 5}},
			poolOf(5, 95), []int64{95, 5}},
		{"a date match outranks an equal hit", noNeigh,
			[]Candidate{{Seq: 1, Lexical: 1, Cost: 5}, {Seq: 2, Lexical: 1, Cost: 5, InTime: true}},
			poolOf(1, 2), []int64{2, 1}},
		{"dense only", noNeigh,
			[]Candidate{{Seq: 1, Dense: 0.2, HasDense: true, Cost: 5}, {Seq: 2, Dense: 0.9, HasDense: true, Cost: 5}, {Seq: 3, Dense: 0.5, HasDense: true, Cost: 5}},
			poolOf(1, 2, 3), []int64{2, 3}}, // the worst dense hit normalises to 0
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Rank(tc.cfg, tc.hits, tc.pool, 100)
			require.Equal(t, tc.want, seqsOf(got))
			again := Rank(tc.cfg, tc.hits, tc.pool, 100)
			require.Equal(t, got, again, "deterministic")
		})
	}
}

func TestRankReasons(t *testing.T) {
	got := Rank(RankConfig{Neighbours: 1}, []Candidate{{Seq: 5, Lexical: 3, Dense: 0.9, HasDense: true, Cost: 4}, {Seq: 8, Dense: 0.1, HasDense: true, Cost: 4}}, poolOf(4, 5, 6, 8), 10)
	by := map[int64][]string{}
	for _, c := range got {
		by[c.Seq] = c.Reasons()
	}
	require.Equal(t, []string{ReasonLexical, ReasonDense}, by[5])
	require.Equal(t, []string{fmt.Sprintf(ReasonNeighbour, 5)}, by[4])
	require.Equal(t, []string{fmt.Sprintf(ReasonNeighbour, 5)}, by[6])
	require.Empty(t, Rank(RankConfig{}, nil, nil, 0))
}

func TestAllocate(t *testing.T) {
	p := BudgetPolicy{RecentShare: 0.25, SummaryShare: 0.2}
	for _, tc := range []struct {
		name                  string
		free, recent, summary int
		want                  Allocation
	}{
		{"shares when all compete", 1000, 5000, 5000, Allocation{Recent: 250, Summary: 200, Recalled: 550}},
		{"unused share spills to recall", 1000, 100, 0, Allocation{Recent: 100, Summary: 0, Recalled: 900}},
		{"nothing free", 0, 100, 100, Allocation{}},
	} {
		require.Equal(t, tc.want, p.Allocate(tc.free, tc.recent, tc.summary), tc.name)
	}
	capped := BudgetPolicy{RecentShare: 0.5, RecentMaxTokens: 300}
	require.Equal(t, 300, capped.Allocate(1000, 900, 0).Recent)
	lore := BudgetPolicy{RecentShare: 0.25, SummaryShare: 0.2, LoreShare: 0.1}
	require.Equal(t, Allocation{Recent: 250, Summary: 200, Lore: 100, Recalled: 450}, lore.AllocateWithLore(1000, 5000, 5000, 5000), "lore within its share")
	require.Equal(t, Allocation{Recent: 250, Summary: 200, Lore: 30, Recalled: 520}, lore.AllocateWithLore(1000, 5000, 5000, 30), "unused lore share spills to recall")
	require.Equal(t, Allocation{Recent: 250, Summary: 200, Recalled: 550}, lore.Allocate(1000, 5000, 5000))
	require.Error(t, BudgetPolicy{RecentShare: 0.5, SummaryShare: 0.2, LoreShare: 0.4}.Validate())
	require.Error(t, BudgetPolicy{LoreShare: 1.5}.Validate())
	require.Error(t, BudgetPolicy{RecentShare: 0.9, SummaryShare: 0.2}.Validate())
	require.Error(t, BudgetPolicy{RecentShare: -1}.Validate())
	require.NoError(t, BudgetPolicy{}.Validate())
}

func TestMessageName(t *testing.T) {
	for in, want := range map[string]string{
		"":                             "",
		"Ines":                         "Ines",
		"Mary Jane":                    "Mary_Jane",
		"o'brien-2":                    "o_brien-2",
		"李雷":                           "",
		"Zoë":                          "Zo_",
		"a" + string(make([]byte, 80)): "a" + strings.Repeat("_", 63),
	} {
		require.Equal(t, want, MessageName(in), in)
	}
}

func TestRankConfigValidateNumbers(t *testing.T) {
	nan := math.NaN()
	for _, tc := range []struct {
		name string
		cfg  RankConfig
		ok   bool
	}{
		{"zero value", RankConfig{}, true},
		{"negative disables speaker", RankConfig{SpeakerWeight: -1, TimeWeight: -1, SessionWeight: -1}, true},
		{"NaN neighbour decay", RankConfig{NeighbourDecay: nan}, false},
		{"NaN speaker weight", RankConfig{SpeakerWeight: nan}, false},
		{"infinite time weight", RankConfig{TimeWeight: math.Inf(1)}, false},
		{"NaN session weight", RankConfig{SessionWeight: nan}, false},
		{"negative lexical weight", RankConfig{LexicalWeight: -1}, false},
		{"unknown smoothing", RankConfig{Smoothing: "avg"}, false},
	} {
		err := tc.cfg.Validate()
		if tc.ok {
			require.NoError(t, err, tc.name)
		} else {
			require.Error(t, err, tc.name)
		}
	}
	for _, cfg := range []AssemblerConfig{{PhraseWeight: nan}, {PhraseWeight: math.Inf(-1)}, {ChatterWeight: 2}, {ChatterWeight: -0.5}, {QueryContextTurns: -1}} {
		require.Error(t, cfg.Validate(), "%+v", cfg)
	}
}
