// Package indextest is the contract suite that every retrieval.Index backend
// runs from its own tests.
package indextest

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/retrieval"
)

// DenseDim is the dimension of every dense vector the suite stores or
// queries. A backend that fixes its dimension up front (Qdrant) must be
// configured with it.
const DenseDim = 8

// denseTol is how far a dense value may drift in a round trip or a cosine
// score: a backend may keep vectors normalised (the suite stores unit
// vectors wherever it reads them back) and score in float32.
const denseTol = 1e-5

// Run runs the contract suite against fresh indexes made by newIndex, one per
// named subtest. newIndex may register cleanups with t (e.g. dropping a
// collection); Run closes each index itself at the end of its subtest, and
// requires Close to succeed.
//
// The suite asserts what every backend must share: replace-by-seq, Get's
// ordering and round trip, deletes, conversation isolation, the Watermark,
// BM25 ranking properties that hold for any k1 > 0 and 0 < b ≤ 1 (rarer terms
// weigh more, term frequency saturates, longer docs are penalised, query
// weights multiply), cosine ranking (docs without a vector, or with the zero
// vector, are never dense hits), Limit and MaxSeq (inclusive, applied before
// Limit), hit ordering (score descending, ties by seq ascending), and safety
// under concurrent use. Exact BM25 values are backend-specific (statistics
// per conversation or per collection) and tested by the backend itself.
func Run(t *testing.T, newIndex func(t *testing.T) retrieval.Index) {
	t.Helper()
	open := func(t *testing.T) retrieval.Index {
		t.Helper()
		idx := newIndex(t)
		require.NotNil(t, idx)
		t.Cleanup(func() { require.NoError(t, idx.Close()) })
		return idx
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, idx retrieval.Index)
	}{
		{"UpsertReplacesBySeq", testUpsertReplaces},
		{"EmptyUpsert", testEmptyUpsert},
		{"GetRoundTrip", testGetRoundTrip},
		{"GetOrderSkipsUnknown", testGetOrder},
		{"Delete", testDelete},
		{"DeleteConversation", testDeleteConversation},
		{"ConversationsIsolated", testIsolation},
		{"UnknownConversation", testUnknownConversation},
		{"Watermark", testWatermark},
		{"Lexical/RareTermWins", testRareTermWins},
		{"Lexical/TermFrequencySaturates", testTFSaturates},
		{"Lexical/LongerDocsPenalised", testLengthPenalty},
		{"Lexical/QueryWeightsMultiply", testQueryWeights},
		{"Lexical/OnlyMatchingDocs", testOnlyMatching},
		{"Lexical/OrderAndTies", testLexicalTies},
		{"Lexical/Limit", testLexicalLimit},
		{"Lexical/MaxSeq", testLexicalMaxSeq},
		{"Dense/Cosine", testDenseCosine},
		{"Dense/Limit", testDenseLimit},
		{"Dense/MaxSeq", testDenseMaxSeq},
		{"Dense/DocsWithoutVectors", testDenseWithoutVectors}, // and zero vectors
		{"SkipParts", testSkipParts},
		{"Concurrent", testConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, open(t))
		})
	}
}

// --- fixtures ---

// baseTime is the creation time of seq 0; seq n is n minutes later.
var baseTime = time.Date(2024, time.March, 5, 6, 7, 8, 0, time.UTC)

// termID maps a word to its lexical term id. It is FNV-1a 32-bit of the word,
// as retrieval's lexical analysis computes it; the index only ever sees ids.
func termID(word string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(word))
	return h.Sum32()
}

// textDoc is a user turn whose content is text and whose lexical terms are
// text's space-separated words (Length counts repeats).
func textDoc(seq int64, text string) retrieval.Doc {
	words := strings.Fields(text)
	counts := map[uint32]uint32{}
	for _, w := range words {
		counts[termID(w)]++
	}
	terms := make([]retrieval.TermFreq, 0, len(counts))
	for id, n := range counts {
		terms = append(terms, retrieval.TermFreq{ID: id, Count: n})
	}
	slices.SortFunc(terms, func(a, b retrieval.TermFreq) int { return cmp.Compare(a.ID, b.ID) })
	return retrieval.Doc{
		Seq:       seq,
		Role:      "user",
		Content:   text,
		CreatedAt: baseTime.Add(time.Duration(seq) * time.Minute),
		Tokens:    len(words),
		Terms:     terms,
		Length:    len(words),
	}
}

// denseDoc is textDoc with a dense vector.
func denseDoc(seq int64, text string, v []float32) retrieval.Doc {
	d := textDoc(seq, text)
	d.Dense = v
	return d
}

// vec pads xs with zeros to DenseDim.
func vec(xs ...float32) []float32 {
	v := make([]float32, DenseDim)
	copy(v, xs)
	return v
}

// unit is the unit vector at angle deg (degrees) in the plane of the first
// two axes.
func unit(deg float64) []float32 {
	r := deg * math.Pi / 180
	return vec(float32(math.Cos(r)), float32(math.Sin(r)))
}

// words is a lexical query with weight 1 per word.
func words(ws ...string) []retrieval.QueryTerm {
	q := make([]retrieval.QueryTerm, len(ws))
	for i, w := range ws {
		q[i] = retrieval.QueryTerm{ID: termID(w), Weight: 1}
	}
	return q
}

// pad is text made of word followed by n copies of "pad".
func pad(word string, n int) string {
	return strings.TrimSpace(word + strings.Repeat(" pad", n))
}

func seqsOf(hits []retrieval.Hit) []int64 {
	out := make([]int64, len(hits))
	for i, h := range hits {
		out[i] = h.Seq
	}
	return out
}

func docSeqs(docs []retrieval.Doc) []int64 {
	out := make([]int64, len(docs))
	for i, d := range docs {
		out[i] = d.Seq
	}
	return out
}

func scoreOf(t *testing.T, hits []retrieval.Hit, seq int64) float64 {
	t.Helper()
	for _, h := range hits {
		if h.Seq == seq {
			return h.Score
		}
	}
	require.Failf(t, "missing hit", "seq %d not in %v", seq, hits)
	return 0
}

// rankedErr reports whether hits break the Hit ordering contract.
func rankedErr(hits []retrieval.Hit) error {
	seen := map[int64]bool{}
	for i, h := range hits {
		if math.IsNaN(h.Score) || math.IsInf(h.Score, 0) {
			return fmt.Errorf("hit %d (seq %d) has score %v", i, h.Seq, h.Score)
		}
		if seen[h.Seq] {
			return fmt.Errorf("seq %d appears twice in %v", h.Seq, hits)
		}
		seen[h.Seq] = true
		if i == 0 {
			continue
		}
		p := hits[i-1]
		if p.Score < h.Score || (p.Score == h.Score && p.Seq > h.Seq) {
			return fmt.Errorf("hits %d and %d out of order (score desc, seq asc): %v", i-1, i, hits)
		}
	}
	return nil
}

func requireRanked(t *testing.T, hits []retrieval.Hit) {
	t.Helper()
	require.NoError(t, rankedErr(hits))
}

// search runs q and checks both lists are ranked and within the limit.
func search(t *testing.T, idx retrieval.Index, conv string, q retrieval.Query) retrieval.Result {
	t.Helper()
	res, err := idx.Search(t.Context(), conv, q)
	require.NoError(t, err)
	requireRanked(t, res.Lexical)
	requireRanked(t, res.Dense)
	require.LessOrEqual(t, len(res.Lexical), q.Limit)
	require.LessOrEqual(t, len(res.Dense), q.Limit)
	return res
}

func lexical(t *testing.T, idx retrieval.Index, conv string, limit int, maxSeq int64, ws ...string) []retrieval.Hit {
	t.Helper()
	res := search(t, idx, conv, retrieval.Query{Terms: words(ws...), Limit: limit, MaxSeq: maxSeq})
	require.Empty(t, res.Dense, "a query without Dense must skip dense search")
	return res.Lexical
}

func dense(t *testing.T, idx retrieval.Index, conv string, limit int, maxSeq int64, q []float32) []retrieval.Hit {
	t.Helper()
	res := search(t, idx, conv, retrieval.Query{Dense: q, Limit: limit, MaxSeq: maxSeq})
	require.Empty(t, res.Lexical, "a query without Terms must skip lexical search")
	return res.Dense
}

func upsert(t *testing.T, idx retrieval.Index, conv string, docs ...retrieval.Doc) {
	t.Helper()
	require.NoError(t, idx.Upsert(t.Context(), conv, docs))
}

func get(t *testing.T, idx retrieval.Index, conv string, seqs ...int64) []retrieval.Doc {
	t.Helper()
	docs, err := idx.Get(t.Context(), conv, seqs, true)
	require.NoError(t, err)
	bare, err := idx.Get(t.Context(), conv, seqs, false)
	require.NoError(t, err)
	require.Len(t, bare, len(docs))
	for i := range bare {
		require.Nil(t, bare[i].Dense, "Get without vectors leaves Dense out")
		bare[i].Dense = docs[i].Dense
		requireDocEqual(t, docs[i], bare[i])
	}
	return docs
}

func watermark(t *testing.T, idx retrieval.Index, conv string) int64 {
	t.Helper()
	wm, err := idx.Watermark(t.Context(), conv)
	require.NoError(t, err)
	return wm
}

// requireDocEqual compares every field of a doc; empty and nil slices are
// equal, dense values may differ by denseTol, times compare as instants.
func requireDocEqual(t *testing.T, want, got retrieval.Doc) {
	t.Helper()
	require.Equal(t, want.Seq, got.Seq)
	require.Equal(t, want.Role, got.Role, "seq %d role", want.Seq)
	require.Equal(t, want.Name, got.Name, "seq %d name", want.Seq)
	require.Equal(t, want.Content, got.Content, "seq %d content", want.Seq)
	require.Equal(t, want.Caption, got.Caption, "seq %d caption", want.Seq)
	require.True(t, want.CreatedAt.Equal(got.CreatedAt), "seq %d created_at: want %v, got %v", want.Seq, want.CreatedAt, got.CreatedAt)
	require.Equal(t, want.Tokens, got.Tokens, "seq %d tokens", want.Seq)
	require.Equal(t, want.LineTokens, got.LineTokens, "seq %d line tokens", want.Seq)
	require.Equal(t, want.Length, got.Length, "seq %d length", want.Seq)
	if len(want.Terms) == 0 {
		require.Empty(t, got.Terms, "seq %d terms", want.Seq)
	} else {
		require.Equal(t, want.Terms, got.Terms, "seq %d terms", want.Seq)
	}
	if len(want.Dense) == 0 {
		require.Empty(t, got.Dense, "seq %d dense", want.Seq)
		return
	}
	require.Len(t, got.Dense, len(want.Dense), "seq %d dense", want.Seq)
	for i := range want.Dense {
		require.InDelta(t, want.Dense[i], got.Dense[i], denseTol, "seq %d dense[%d]", want.Seq, i)
	}
}

// --- subtests ---

func testUpsertReplaces(t *testing.T, idx retrieval.Index) {
	const conv = "replace"
	upsert(t, idx, conv,
		denseDoc(1, "apple banana", unit(0)),
		denseDoc(2, "cherry", unit(90)),
	)
	repl := denseDoc(1, "durian", unit(45))
	repl.Role, repl.Name = "assistant", "Mira"
	upsert(t, idx, conv, repl)

	docs := get(t, idx, conv, 1, 2)
	require.Equal(t, []int64{1, 2}, docSeqs(docs), "a replaced seq must not be duplicated")
	requireDocEqual(t, repl, docs[0])

	require.Empty(t, lexical(t, idx, conv, 10, 0, "apple"), "terms of the replaced version must be gone")
	require.Equal(t, []int64{1}, seqsOf(lexical(t, idx, conv, 10, 0, "durian")))
	require.Equal(t, []int64{2}, seqsOf(lexical(t, idx, conv, 10, 0, "cherry", "banana")))

	hits := dense(t, idx, conv, 10, 0, unit(45))
	require.Equal(t, []int64{1, 2}, seqsOf(hits))
	require.InDelta(t, 1, hits[0].Score, denseTol, "the replaced doc is scored with its new vector")

	// Replacing a doc with a version that has no vector removes it from
	// dense search.
	upsert(t, idx, conv, textDoc(1, "durian"))
	require.Equal(t, []int64{2}, seqsOf(dense(t, idx, conv, 10, 0, unit(45))))
}

func testEmptyUpsert(t *testing.T, idx retrieval.Index) {
	require.NoError(t, idx.Upsert(t.Context(), "empty", nil))
	require.NoError(t, idx.Upsert(t.Context(), "empty", []retrieval.Doc{}))
	require.Zero(t, watermark(t, idx, "empty"))
	require.Empty(t, get(t, idx, "empty", 1))
}

func testGetRoundTrip(t *testing.T, idx retrieval.Index) {
	const conv = "roundtrip"
	v := []float32{0.5, -0.5, 0.5, -0.5, 0, 0, 0, 0}
	full := retrieval.Doc{
		Seq:        7,
		Role:       "assistant",
		Name:       "Mira",
		Content:    "Ünïcode ✓ 你好\n\"quoted\" and a tab\there",
		Caption:    "a cat asleep on a red mat",
		CreatedAt:  time.Date(2023, time.December, 31, 23, 59, 58, 123456789, time.UTC),
		Tokens:     42,
		LineTokens: 47,
		Dense:      v,
		Terms: []retrieval.TermFreq{
			{ID: 3, Count: 1},
			{ID: 17, Count: 4},
			{ID: 1 << 20, Count: 2},
			{ID: math.MaxUint32, Count: 1},
		},
		Length: 8,
	}
	bare := retrieval.Doc{
		Seq:       8,
		Role:      "user",
		Content:   "",
		CreatedAt: time.Date(2024, time.January, 1, 0, 0, 0, 0, time.UTC),
	}
	upsert(t, idx, conv, full, bare)

	docs := get(t, idx, conv, 8, 7)
	require.Len(t, docs, 2)
	requireDocEqual(t, full, docs[0])
	requireDocEqual(t, bare, docs[1])

	// The index must not alias the caller's slices.
	full.Dense[0], full.Terms[0].Count = 99, 99
	docs = get(t, idx, conv, 7)
	require.Len(t, docs, 1)
	require.InDelta(t, 0.5, docs[0].Dense[0], denseTol)
	require.Equal(t, uint32(1), docs[0].Terms[0].Count)

	// Returned vectors are the caller's (terms may be shared and are
	// read-only by contract).
	docs[0].Dense[1] = 99
	again := get(t, idx, conv, 7)
	require.InDelta(t, -0.5, again[0].Dense[1], denseTol)
	require.Equal(t, uint32(4), again[0].Terms[1].Count)
}

func testGetOrder(t *testing.T, idx retrieval.Index) {
	const conv = "order"
	upsert(t, idx, conv, textDoc(1, "one"), textDoc(3, "three"), textDoc(5, "five"))
	upsert(t, idx, conv, textDoc(4, "four"))

	docs := get(t, idx, conv, 42, 5, 3, 1, -1, 0)
	require.Equal(t, []int64{1, 3, 5}, docSeqs(docs), "existing docs, ascending, unknown seqs skipped")
	require.Equal(t, "one", docs[0].Content)
	require.Equal(t, "three", docs[1].Content)
	require.Equal(t, "five", docs[2].Content)

	require.Equal(t, []int64{1, 3, 4, 5}, docSeqs(get(t, idx, conv, 5, 4, 3, 2, 1)))
	require.Empty(t, get(t, idx, conv))
	require.Empty(t, get(t, idx, conv, 2, 6))
}

func testDelete(t *testing.T, idx retrieval.Index) {
	const conv = "delete"
	upsert(t, idx, conv,
		denseDoc(1, "shared one", unit(0)),
		denseDoc(2, "shared two", unit(10)),
		denseDoc(3, "shared three", unit(20)),
		denseDoc(4, "shared four", unit(30)),
	)
	require.NoError(t, idx.Delete(t.Context(), conv, []int64{2, 99}))
	require.NoError(t, idx.Delete(t.Context(), conv, nil))
	require.NoError(t, idx.Delete(t.Context(), "never-used", []int64{1}))

	require.Equal(t, []int64{1, 3, 4}, docSeqs(get(t, idx, conv, 1, 2, 3, 4)))
	require.Empty(t, lexical(t, idx, conv, 10, 0, "two"))
	require.ElementsMatch(t, []int64{1, 3, 4}, seqsOf(lexical(t, idx, conv, 10, 0, "shared")))
	require.Equal(t, []int64{1, 3, 4}, seqsOf(dense(t, idx, conv, 10, 0, unit(0))))

	// Deleting again is a no-op; a deleted seq can be upserted anew.
	require.NoError(t, idx.Delete(t.Context(), conv, []int64{2}))
	upsert(t, idx, conv, denseDoc(2, "again", unit(0)))
	require.Equal(t, []int64{1, 2, 3, 4}, docSeqs(get(t, idx, conv, 1, 2, 3, 4)))
	require.Equal(t, []int64{2}, seqsOf(lexical(t, idx, conv, 10, 0, "again")))
}

func testDeleteConversation(t *testing.T, idx retrieval.Index) {
	upsert(t, idx, "a", denseDoc(1, "alpha words", unit(0)), denseDoc(2, "alpha more", unit(5)))
	upsert(t, idx, "b", denseDoc(1, "alpha beta", unit(0)))

	require.NoError(t, idx.DeleteConversation(t.Context(), "a"))
	require.NoError(t, idx.DeleteConversation(t.Context(), "never-used"))

	require.Empty(t, get(t, idx, "a", 1, 2))
	res := search(t, idx, "a", retrieval.Query{Terms: words("alpha"), Dense: unit(0), Limit: 10})
	require.Empty(t, res.Lexical)
	require.Empty(t, res.Dense)
	require.Zero(t, watermark(t, idx, "a"))

	require.Len(t, get(t, idx, "b", 1), 1, "other conversations are untouched")
	require.Equal(t, int64(1), watermark(t, idx, "b"))
	require.Equal(t, []int64{1}, seqsOf(lexical(t, idx, "b", 10, 0, "alpha")))

	upsert(t, idx, "a", textDoc(1, "fresh start"))
	require.Equal(t, int64(1), watermark(t, idx, "a"))
	require.Equal(t, []int64{1}, seqsOf(lexical(t, idx, "a", 10, 0, "fresh", "alpha")))
}

func testIsolation(t *testing.T, idx retrieval.Index) {
	upsert(t, idx, "a", denseDoc(1, "apple common", unit(0)), denseDoc(2, "avocado common", unit(10)))
	upsert(t, idx, "b",
		denseDoc(1, "banana common", unit(90)),
		denseDoc(2, "blueberry common", unit(80)),
		denseDoc(5, "bramble common", unit(70)),
	)
	// A conversation id that is a prefix of another must not leak into it.
	upsert(t, idx, "a\x1fb", textDoc(1, "scoped common"))

	docs := get(t, idx, "a", 1, 2, 5)
	require.Equal(t, []int64{1, 2}, docSeqs(docs))
	require.Equal(t, "apple common", docs[0].Content)
	require.Equal(t, "banana common", get(t, idx, "b", 1)[0].Content)

	require.Empty(t, lexical(t, idx, "a", 10, 0, "banana", "scoped"))
	require.ElementsMatch(t, []int64{1, 2}, seqsOf(lexical(t, idx, "a", 10, 0, "common")))
	require.ElementsMatch(t, []int64{1, 2, 5}, seqsOf(lexical(t, idx, "b", 10, 0, "common")))
	require.Equal(t, []int64{2, 1}, seqsOf(dense(t, idx, "a", 10, 0, unit(90))), "dense search stays in its conversation")

	require.Equal(t, int64(2), watermark(t, idx, "a"))
	require.Equal(t, int64(5), watermark(t, idx, "b"))
	require.Equal(t, int64(1), watermark(t, idx, "a\x1fb"))

	require.NoError(t, idx.Delete(t.Context(), "a", []int64{1}))
	require.Equal(t, []int64{1, 2}, docSeqs(get(t, idx, "b", 1, 2)), "Delete stays in its conversation")
}

func testUnknownConversation(t *testing.T, idx retrieval.Index) {
	const conv = "nobody"
	res := search(t, idx, conv, retrieval.Query{Terms: words("anything"), Dense: unit(0), Limit: 10})
	require.Empty(t, res.Lexical)
	require.Empty(t, res.Dense)
	require.Empty(t, get(t, idx, conv, 1, 2, 3))
	require.Zero(t, watermark(t, idx, conv))
	require.NoError(t, idx.Delete(t.Context(), conv, []int64{1}))
	require.NoError(t, idx.DeleteConversation(t.Context(), conv))
}

func testWatermark(t *testing.T, idx retrieval.Index) {
	const conv = "wm"
	require.Zero(t, watermark(t, idx, conv), "unknown conversation")

	upsert(t, idx, conv, textDoc(1, "one"), textDoc(2, "two"), textDoc(3, "three"))
	require.Equal(t, int64(3), watermark(t, idx, conv))

	upsert(t, idx, conv, textDoc(10, "ten"))
	require.Equal(t, int64(10), watermark(t, idx, conv))

	upsert(t, idx, conv, textDoc(2, "two again"))
	require.Equal(t, int64(10), watermark(t, idx, conv), "re-upserting a lower seq keeps the highest")

	require.NoError(t, idx.Delete(t.Context(), conv, []int64{3}))
	require.Equal(t, int64(10), watermark(t, idx, conv), "deleting a lower seq keeps the highest")

	require.NoError(t, idx.Delete(t.Context(), conv, []int64{1, 2, 10}))
	require.Zero(t, watermark(t, idx, conv), "an index holding nothing for conv reports 0")

	upsert(t, idx, conv, textDoc(4, "four"))
	require.Equal(t, int64(4), watermark(t, idx, conv))

	require.NoError(t, idx.DeleteConversation(t.Context(), conv))
	require.Zero(t, watermark(t, idx, conv))
}

func testRareTermWins(t *testing.T, idx retrieval.Index) {
	const conv = "rare"
	// Six docs hold the common query term (twice, even); one holds the rare
	// one. All docs have the same length.
	var docs []retrieval.Doc
	for i := int64(1); i <= 6; i++ {
		docs = append(docs, textDoc(i, "common common filler filler"))
	}
	docs = append(docs, textDoc(7, "rare filler filler filler"))
	upsert(t, idx, conv, docs...)

	hits := lexical(t, idx, conv, 10, 0, "common", "rare")
	require.Len(t, hits, 7)
	require.Equal(t, int64(7), hits[0].Seq, "the doc with the rare term ranks first: %v", hits)
	require.Greater(t, hits[0].Score, hits[1].Score)
	require.Equal(t, []int64{1, 2, 3, 4, 5, 6}, seqsOf(hits[1:]), "equal docs tie, by seq ascending")
}

func testTFSaturates(t *testing.T, idx retrieval.Index) {
	const conv = "tf"
	// All docs are 20 terms long; doc tf holds the query term tf times.
	tfs := []int{1, 2, 4, 20}
	for _, tf := range tfs {
		text := strings.TrimSpace(strings.Repeat("x ", tf) + strings.Repeat("pad ", 20-tf))
		upsert(t, idx, conv, textDoc(int64(tf), text))
	}
	hits := lexical(t, idx, conv, 10, 0, "x")
	require.Equal(t, []int64{20, 4, 2, 1}, seqsOf(hits), "more occurrences score higher")

	s := map[int]float64{}
	for _, tf := range tfs {
		s[tf] = scoreOf(t, hits, int64(tf))
		require.Greater(t, s[tf], 0.0)
	}
	// Saturation: each extra occurrence adds less than the one before, and
	// twenty occurrences are worth far less than twenty times one.
	require.Greater(t, s[2]-s[1], (s[4]-s[2])/2)
	require.Greater(t, (s[4]-s[2])/2, (s[20]-s[4])/16)
	require.Less(t, s[20]/s[1], 4.0, "term frequency must saturate (linear would give 20)")
}

func testLengthPenalty(t *testing.T, idx retrieval.Index) {
	const conv = "length"
	upsert(t, idx, conv,
		textDoc(1, pad("x", 39)),
		textDoc(2, pad("x", 3)),
		textDoc(3, pad("x", 9)),
	)
	hits := lexical(t, idx, conv, 10, 0, "x")
	require.Equal(t, []int64{2, 3, 1}, seqsOf(hits), "shorter docs with the same tf score higher")
	require.Greater(t, hits[0].Score, hits[1].Score)
	require.Greater(t, hits[1].Score, hits[2].Score)
}

func testQueryWeights(t *testing.T, idx retrieval.Index) {
	const conv = "weights"
	upsert(t, idx, conv, textDoc(1, pad("y", 3)), textDoc(2, pad("x", 3)))
	q := []retrieval.QueryTerm{{ID: termID("x"), Weight: 1}, {ID: termID("y"), Weight: 0.5}}
	res := search(t, idx, conv, retrieval.Query{Terms: q, Limit: 10})
	require.Equal(t, []int64{2, 1}, seqsOf(res.Lexical))
	require.InEpsilon(t, 2.0, res.Lexical[0].Score/res.Lexical[1].Score, 1e-3,
		"a term's contribution is proportional to its query weight")
}

func testOnlyMatching(t *testing.T, idx retrieval.Index) {
	const conv = "matching"
	upsert(t, idx, conv,
		textDoc(1, "apple pie"),
		textDoc(2, "banana bread"),
		textDoc(3, "cherry tart"),
		textDoc(4, "apple cherry crumble"),
	)
	require.ElementsMatch(t, []int64{1, 3, 4}, seqsOf(lexical(t, idx, conv, 10, 0, "apple", "cherry")))
	require.Empty(t, lexical(t, idx, conv, 10, 0, "durian"), "no doc holds the term")
	for _, h := range lexical(t, idx, conv, 10, 0, "apple", "cherry", "durian") {
		require.Greater(t, h.Score, 0.0)
	}
}

func testLexicalTies(t *testing.T, idx retrieval.Index) {
	const conv = "ties"
	upsert(t, idx, conv,
		textDoc(1, "tie tie"),
		textDoc(3, "tie pad"),
		textDoc(5, "tie pad"),
		textDoc(9, "tie pad"),
		textDoc(11, "pad pad"),
	)
	upsert(t, idx, conv, textDoc(2, "tie pad"))
	hits := lexical(t, idx, conv, 10, 0, "tie")
	require.Equal(t, []int64{1, 2, 3, 5, 9}, seqsOf(hits))
	require.Greater(t, hits[0].Score, hits[1].Score)
	for _, h := range hits[2:] {
		require.Equal(t, hits[1].Score, h.Score, "identical docs score identically")
	}
}

// manyLexical upserts 20 docs whose scores for "x" all differ.
func manyLexical(t *testing.T, idx retrieval.Index, conv string) {
	t.Helper()
	var docs []retrieval.Doc
	for i := int64(1); i <= 20; i++ {
		// tf and length vary with seq so that scores are distinct.
		tf := int(i%4) + 1
		text := strings.TrimSpace(strings.Repeat("x ", tf) + strings.Repeat("pad ", int(i)))
		docs = append(docs, textDoc(i, text))
	}
	docs = append(docs, textDoc(21, "unrelated words only"))
	upsert(t, idx, conv, docs...)
}

func testLexicalLimit(t *testing.T, idx retrieval.Index) {
	const conv = "lexlimit"
	manyLexical(t, idx, conv)
	all := lexical(t, idx, conv, 100, 0, "x")
	require.Len(t, all, 20)
	for _, limit := range []int{1, 5, 19, 20} {
		top := lexical(t, idx, conv, limit, 0, "x")
		require.Equal(t, seqsOf(all[:limit]), seqsOf(top), "limit %d is the head of the full ranking", limit)
	}
}

func testLexicalMaxSeq(t *testing.T, idx retrieval.Index) {
	const conv = "lexmaxseq"
	manyLexical(t, idx, conv)
	all := lexical(t, idx, conv, 100, 0, "x")
	var want []int64
	for _, h := range all {
		if h.Seq <= 8 {
			want = append(want, h.Seq)
		}
	}
	require.Len(t, want, 8)
	require.Equal(t, want, seqsOf(lexical(t, idx, conv, 100, 8, "x")), "MaxSeq is inclusive")
	require.Equal(t, want[:3], seqsOf(lexical(t, idx, conv, 3, 8, "x")), "MaxSeq filters before Limit")
	require.Len(t, lexical(t, idx, conv, 100, 1000, "x"), 20)
}

func testDenseCosine(t *testing.T, idx retrieval.Index) {
	const conv = "cosine"
	upsert(t, idx, conv,
		denseDoc(1, "one", unit(0)),
		denseDoc(2, "two", vec(0.6, 0.8)),
		denseDoc(3, "three", unit(90)),
		denseDoc(4, "four", unit(180)),
		denseDoc(5, "five", vec(2.4, 1.8)), // not unit length: cosine 0.8
		denseDoc(6, "six", vec(0.6, 0, 0.8)),
	)
	hits := dense(t, idx, conv, 10, 0, vec(2)) // the query is not unit length either
	// Seqs 2 and 6 tie at 0.6 (same components on different axes).
	require.Equal(t, []int64{1, 5, 2, 6, 3, 4}, seqsOf(hits))
	want := map[int64]float64{1: 1, 5: 0.8, 2: 0.6, 6: 0.6, 3: 0, 4: -1}
	for seq, cos := range want {
		require.InDelta(t, cos, scoreOf(t, hits, seq), denseTol, "cosine of seq %d", seq)
	}
}

// manyDense upserts 20 docs at 5° steps from the first axis: seq i+1 at i*5°.
func manyDense(t *testing.T, idx retrieval.Index, conv string) {
	t.Helper()
	var docs []retrieval.Doc
	for i := range 20 {
		docs = append(docs, denseDoc(int64(i+1), "d", unit(float64(i)*5)))
	}
	upsert(t, idx, conv, docs...)
}

func testDenseLimit(t *testing.T, idx retrieval.Index) {
	const conv = "denselimit"
	manyDense(t, idx, conv)
	all := dense(t, idx, conv, 100, 0, unit(0))
	require.Len(t, all, 20)
	for i, h := range all {
		require.Equal(t, int64(i+1), h.Seq)
	}
	for _, limit := range []int{1, 5, 20} {
		require.Equal(t, seqsOf(all[:limit]), seqsOf(dense(t, idx, conv, limit, 0, unit(0))))
	}
	// From the far end the order reverses.
	require.Equal(t, []int64{20, 19, 18}, seqsOf(dense(t, idx, conv, 3, 0, unit(95))))
}

func testDenseMaxSeq(t *testing.T, idx retrieval.Index) {
	const conv = "densemaxseq"
	manyDense(t, idx, conv)
	hits := dense(t, idx, conv, 3, 12, unit(95))
	require.Equal(t, []int64{12, 11, 10}, seqsOf(hits), "MaxSeq is inclusive and filters before Limit")
	require.Len(t, dense(t, idx, conv, 100, 5, unit(0)), 5)
}

func testDenseWithoutVectors(t *testing.T, idx retrieval.Index) {
	const conv = "novectors"
	upsert(t, idx, conv,
		denseDoc(1, "word", unit(0)),
		textDoc(2, "word"),
		denseDoc(3, "word", unit(30)),
		textDoc(4, "word"),
		denseDoc(5, "word", unit(180)),
		textDoc(6, "word"),
		// An Embedder gives a text with no known word the zero vector: it
		// has no direction, so it is never a dense hit either.
		denseDoc(7, "word", vec()),
	)
	require.Equal(t, []int64{1, 3, 5}, seqsOf(dense(t, idx, conv, 100, 0, unit(0))))
	require.Len(t, lexical(t, idx, conv, 100, 0, "word"), 7)
	require.Empty(t, dense(t, idx, conv, 100, 0, vec()), "a zero query has no dense hits")

	upsert(t, idx, "textonly", textDoc(1, "word"))
	require.Empty(t, dense(t, idx, "textonly", 100, 0, unit(0)), "a conversation without vectors has no dense hits")
}

func testSkipParts(t *testing.T, idx retrieval.Index) {
	const conv = "skip"
	upsert(t, idx, conv, denseDoc(1, "word here", unit(0)), denseDoc(2, "word there", unit(20)))

	both := search(t, idx, conv, retrieval.Query{Terms: words("word"), Dense: unit(0), Limit: 10})
	require.Len(t, both.Lexical, 2)
	require.Len(t, both.Dense, 2)

	onlyDense := search(t, idx, conv, retrieval.Query{Terms: []retrieval.QueryTerm{}, Dense: unit(0), Limit: 10})
	require.Empty(t, onlyDense.Lexical)
	require.Equal(t, []int64{1, 2}, seqsOf(onlyDense.Dense))

	onlyLexical := search(t, idx, conv, retrieval.Query{Terms: words("there"), Limit: 10})
	require.Empty(t, onlyLexical.Dense)
	require.Equal(t, []int64{2}, seqsOf(onlyLexical.Lexical))

	none := search(t, idx, conv, retrieval.Query{Limit: 10})
	require.Empty(t, none.Lexical)
	require.Empty(t, none.Dense)
}

func testConcurrent(t *testing.T, idx retrieval.Index) {
	const (
		writers   = 4
		perWriter = 25
		readers   = 3
		shared    = "shared"
	)
	ctx := t.Context()
	errs := make(chan error, writers+readers)
	done := make(chan struct{})
	var wg, readWG sync.WaitGroup

	for w := range writers {
		wg.Go(func() {
			own := fmt.Sprintf("own-%d", w)
			for i := range perWriter {
				seq := int64(w*1000 + i + 1)
				d := denseDoc(seq, fmt.Sprintf("concurrent writer%d n%d", w, i), unit(float64(i)))
				if err := idx.Upsert(ctx, shared, []retrieval.Doc{d}); err != nil {
					errs <- fmt.Errorf("upsert %s %d: %w", shared, seq, err)
					return
				}
				d.Seq = int64(i + 1)
				if err := idx.Upsert(ctx, own, []retrieval.Doc{d}); err != nil {
					errs <- fmt.Errorf("upsert %s %d: %w", own, d.Seq, err)
					return
				}
			}
		})
	}
	for r := range readers {
		readWG.Go(func() {
			q := retrieval.Query{Terms: words("concurrent", fmt.Sprintf("writer%d", r)), Dense: unit(3), Limit: 5}
			for {
				select {
				case <-done:
					return
				default:
				}
				res, err := idx.Search(ctx, shared, q)
				if err == nil {
					err = rankedErr(res.Lexical)
				}
				if err == nil {
					err = rankedErr(res.Dense)
				}
				if err == nil {
					_, err = idx.Get(ctx, shared, []int64{1, 1001, 2002}, true)
				}
				if err == nil {
					_, err = idx.Watermark(ctx, fmt.Sprintf("own-%d", r))
				}
				if err != nil {
					errs <- fmt.Errorf("reader %d: %w", r, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(done)
	readWG.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	var all []int64
	for w := range writers {
		for i := range perWriter {
			all = append(all, int64(w*1000+i+1))
		}
		own := fmt.Sprintf("own-%d", w)
		require.Equal(t, int64(perWriter), watermark(t, idx, own))
		require.Len(t, get(t, idx, own, 1, perWriter), 2)
	}
	require.Equal(t, all, docSeqs(get(t, idx, shared, all...)))
	require.Equal(t, int64((writers-1)*1000+perWriter), watermark(t, idx, shared))
	res := search(t, idx, shared, retrieval.Query{Terms: words("concurrent"), Dense: unit(0), Limit: 1000})
	require.Len(t, res.Lexical, writers*perWriter)
	require.Len(t, res.Dense, writers*perWriter)
}
