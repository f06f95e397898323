package retrieval

import (
	"cmp"
	"slices"
)

// Phrase terms: besides single terms, documents and queries carry the pairs
// of adjacent terms (after stop-word removal and stemming), "support group"
// or "charity race". A document that holds a query's words side by side
// outranks one that holds them apart — term proximity, the idea of the
// sequential dependence model, at the cost of one extra posting per word.

// phraseSep joins the two terms of a pair before hashing.
const phraseSep = "\x1f"

// docTermFreqs returns the unique term and pair ids of text ascending with
// their counts, and the number of single terms (BM25's document length).
func (a *Analyzer) docTermFreqs(text string) ([]TermFreq, int) {
	var ids []uint32
	prev, n := "", 0
	a.analyze(text, func(t string) {
		ids = append(ids, TermID(t))
		if prev != "" {
			ids = append(ids, TermID(prev+phraseSep+t))
		}
		prev = t
		n++
	})
	return countIDs(ids), n
}

// queryTerms returns text's terms at weight 1 and its adjacent pairs at
// pairWeight (0 leaves pairs out), ascending by id, ids unique.
func (a *Analyzer) queryTerms(text string, pairWeight float32) []QueryTerm {
	return a.queryTermsWeighted(text, pairWeight, 1)
}

// queryTermsWeighted is queryTerms with the sentences of text that do not
// ask anything (see Sentences) at chatterWeight times their weights, when
// some sentence does ask, and CJK terms holding a function character at
// zhFunctionWeight. A term keeps its highest weight.
func (a *Analyzer) queryTermsWeighted(text string, pairWeight, chatterWeight float32) []QueryTerm {
	w := map[uint32]float32{}
	set := func(id uint32, v float32) {
		if w[id] < v {
			w[id] = v
		}
	}
	parts := []Sentence{{Text: text, Asks: true}}
	if chatterWeight < 1 {
		if ss := Sentences(text); slices.ContainsFunc(ss, func(s Sentence) bool { return s.Asks }) {
			parts = ss
		}
	}
	for _, part := range parts {
		scale := float32(1)
		if !part.Asks {
			scale = chatterWeight
		}
		prev := ""
		a.analyze(part.Text, func(t string) {
			set(TermID(t), scale*zhFunctionScale(t))
			if prev != "" && pairWeight > 0 {
				set(TermID(prev+phraseSep+t), pairWeight*scale)
			}
			prev = t
		})
	}
	out := make([]QueryTerm, 0, len(w))
	for id, wt := range w {
		out = append(out, QueryTerm{ID: id, Weight: wt})
	}
	slices.SortFunc(out, func(x, y QueryTerm) int { return cmp.Compare(x.ID, y.ID) })
	return out
}

func countIDs(ids []uint32) []TermFreq {
	if len(ids) == 0 {
		return nil
	}
	slices.Sort(ids)
	out := make([]TermFreq, 0, len(ids))
	for i, id := range ids {
		if i > 0 && id == ids[i-1] {
			out[len(out)-1].Count++
			continue
		}
		out = append(out, TermFreq{ID: id, Count: 1})
	}
	return out
}
