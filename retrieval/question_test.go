package retrieval

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSentences(t *testing.T) {
	for _, tc := range []struct {
		text string
		want []Sentence
	}{
		{"", nil},
		{"Nice weather today. Where did I park the van?", []Sentence{{"Nice weather today.", false}, {"Where did I park the van?", true}}},
		{"The kettle costs 3.5 pounds, e.g. cheap! ok", []Sentence{{"The kettle costs 3.5 pounds, e.g. cheap!", false}, {"ok", false}}},
		{"what was the plumber called", []Sentence{{"what was the plumber called", true}}},
		{"今天好冷啊。对了，我表姐住在哪个城市？", []Sentence{{"今天好冷啊。", false}, {"对了，我表姐住在哪个城市？", true}}},
		{"最近很忙；我想问的是：那个活动的规模是多少", []Sentence{{"最近很忙；", false}, {"我想问的是：那个活动的规模是多少", true}}},
		{"line one\nline two", []Sentence{{"line one", false}, {"line two", false}}},
	} {
		require.Equal(t, tc.want, Sentences(tc.text), "%q", tc.text)
	}
}

func TestQueryTermsWeightedChatter(t *testing.T) {
	a := NewAnalyzer(AnalyzerConfig{})
	weights := func(q []QueryTerm) map[uint32]float32 {
		m := map[uint32]float32{}
		for _, t := range q {
			m[t.ID] = t.Weight
		}
		return m
	}
	text := "The allotment flooded again. Which seeds did the neighbour give me?"
	w := weights(a.queryTermsWeighted(text, 0.5, 0.3))
	require.Equal(t, float32(1), w[TermID("seed")], "the asking sentence keeps full weight")
	require.InDelta(t, 0.3, w[TermID("allot")], 1e-6, "the chatter is scaled")
	// A term in both keeps its highest weight.
	w = weights(a.queryTermsWeighted("Seeds everywhere. Which seeds sprouted?", 0.5, 0.3))
	require.Equal(t, float32(1), w[TermID("seed")])
	// No sentence asks: nothing is scaled.
	w = weights(a.queryTermsWeighted("The allotment flooded again.", 0.5, 0.3))
	require.Equal(t, float32(1), w[TermID("allot")])
	// chatterWeight 1 is the plain query.
	require.Equal(t, a.queryTerms(text, 0.5), a.queryTermsWeighted(text, 0.5, 1))
}

func TestQueryTermsChineseFunctionCharacters(t *testing.T) {
	a := NewAnalyzer(AnalyzerConfig{})
	w := map[uint32]float32{}
	for _, q := range a.queryTermsWeighted("那个活动的规模是多少？", 0, 1) {
		w[q.ID] = q.Weight
	}
	require.Equal(t, float32(1), w[TermID("规模")], "a content bigram keeps its weight")
	require.Equal(t, float32(1), w[TermID("活动")])
	require.InDelta(t, zhFunctionWeight, w[TermID("的规")], 1e-6, "a bigram across a particle weighs less")
	require.InDelta(t, zhFunctionWeight, w[TermID("那个")], 1e-6)
	// English terms are untouched.
	for _, q := range a.queryTermsWeighted("where is the bakery", 0, 1) {
		require.Equal(t, float32(1), q.Weight)
	}
}

func TestAskingText(t *testing.T) {
	require.Equal(t, "What did I plant?", askingText("This week was hectic. What did I plant?"))
	require.Equal(t, "This week was hectic.", askingText("This week was hectic."), "nothing asks: all of it")
	require.Equal(t, "你好吗？ 那个活动在哪里？", askingText("你好吗？这周好累。那个活动在哪里？"))
}
