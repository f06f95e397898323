package retrieval

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPhraseTerms(t *testing.T) {
	an := NewAnalyzer(AnalyzerConfig{})
	terms, n := an.docTermFreqs("I went to a support group; the support group helped.")
	require.Equal(t, 6, n, "length counts single terms only: went support group support group help")
	counts := map[uint32]uint32{}
	for _, tf := range terms {
		counts[tf.ID] = tf.Count
	}
	single := an.Terms("support group")
	require.Len(t, single, 2)
	require.EqualValues(t, 2, counts[TermID(single[0]+phraseSep+single[1])], "the pair occurs twice")
	require.EqualValues(t, 2, counts[TermID(single[0])])

	q := an.queryTerms("When did Ines go to the support group?", 0.5)
	weights := map[uint32]float32{}
	for i, qt := range q {
		weights[qt.ID] = qt.Weight
		if i > 0 {
			require.Less(t, q[i-1].ID, qt.ID, "ascending, unique")
		}
	}
	require.EqualValues(t, 1, weights[TermID(single[0])])
	require.EqualValues(t, 0.5, weights[TermID(single[0]+phraseSep+single[1])])
	require.Len(t, an.queryTerms("support group", -1), 2, "pairs off")
}

func TestPhrasesRankAdjacentWordsFirst(t *testing.T) {
	an := NewAnalyzer(AnalyzerConfig{})
	q := an.queryTerms("charity race", 0.5)
	together, _ := an.docTermFreqs("we ran the charity race on sunday")
	apart, _ := an.docTermFreqs("the race for charity money on sunday")
	score := func(doc []TermFreq) (s float32) {
		for _, qt := range q {
			for _, tf := range doc {
				if tf.ID == qt.ID {
					s += qt.Weight
				}
			}
		}
		return s
	}
	require.Greater(t, score(together), score(apart))
}
