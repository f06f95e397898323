package embeddedindex

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/retrieval"
	"github.com/longmem/longmem/retrieval/indextest"
)

func newIndex(t *testing.T, cfg Config) *Index {
	t.Helper()
	idx, err := New(cfg)
	require.NoError(t, err)
	return idx
}

func TestContract(t *testing.T) {
	indextest.Run(t, func(t *testing.T) retrieval.Index {
		return newIndex(t, Config{})
	})
}

// TestContractSmallLRU runs the suite with tight bounds that no subtest
// reaches: bounds must not change behaviour below them.
func TestContractSmallLRU(t *testing.T) {
	indextest.Run(t, func(t *testing.T) retrieval.Index {
		return newIndex(t, Config{MaxConversations: 8, MaxDocs: 1000})
	})
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		cfg  Config
		fail bool
	}{
		{Config{}, false},
		{Config{MaxConversations: 1, MaxDocs: 1}, false},
		{Config{MaxConversations: -1}, true},
		{Config{MaxDocs: -1}, true},
	}
	for _, tc := range tests {
		err := tc.cfg.Validate()
		if tc.fail {
			require.Error(t, err, "%+v", tc.cfg)
			_, err = New(tc.cfg)
			require.Error(t, err)
		} else {
			require.NoError(t, err, "%+v", tc.cfg)
		}
	}
}

func doc(seq int64, terms ...retrieval.TermFreq) retrieval.Doc {
	n := 0
	for _, tf := range terms {
		n += int(tf.Count)
	}
	return retrieval.Doc{Seq: seq, Role: "user", Content: fmt.Sprint("doc ", seq), Terms: terms, Length: n}
}

func tf(id, n uint32) retrieval.TermFreq { return retrieval.TermFreq{ID: id, Count: n} }

func TestLRUEvictsLeastRecentlyUsedConversation(t *testing.T) {
	ctx := t.Context()
	idx := newIndex(t, Config{MaxConversations: 2})
	require.NoError(t, idx.Upsert(ctx, "a", []retrieval.Doc{doc(1, tf(1, 1)), doc(2, tf(1, 1))}))
	require.NoError(t, idx.Upsert(ctx, "b", []retrieval.Doc{doc(1, tf(1, 1))}))

	// Reading a makes b the least recently used.
	_, err := idx.Search(ctx, "a", retrieval.Query{Terms: []retrieval.QueryTerm{{ID: 1, Weight: 1}}, Limit: 1})
	require.NoError(t, err)
	require.NoError(t, idx.Upsert(ctx, "c", []retrieval.Doc{doc(7, tf(1, 1))}))

	requireHeld(t, idx, 2, 3)
	wm, err := idx.Watermark(ctx, "b")
	require.NoError(t, err)
	require.Zero(t, wm, "an evicted conversation is forgotten")
	docs, err := idx.Get(ctx, "b", []int64{1}, true)
	require.NoError(t, err)
	require.Empty(t, docs)

	for conv, want := range map[string]int64{"a": 2, "c": 7} {
		wm, err := idx.Watermark(ctx, conv)
		require.NoError(t, err)
		require.Equal(t, want, wm, conv)
	}

	// Use a, then c: a is now the least recently used. The caller rebuilds
	// b from the store, which evicts a.
	for _, conv := range []string{"a", "c"} {
		_, err := idx.Watermark(ctx, conv)
		require.NoError(t, err)
	}
	require.NoError(t, idx.Upsert(ctx, "b", []retrieval.Doc{doc(1, tf(1, 1))}))
	requireHeld(t, idx, 2, 2)
	for conv, want := range map[string]int64{"a": 0, "b": 1, "c": 7} {
		wm, err := idx.Watermark(ctx, conv)
		require.NoError(t, err)
		require.Equal(t, want, wm, conv)
	}
}

func TestLRUMaxDocs(t *testing.T) {
	ctx := t.Context()
	idx := newIndex(t, Config{MaxDocs: 5})
	three := []retrieval.Doc{doc(1, tf(1, 1)), doc(2, tf(1, 1)), doc(3, tf(1, 1))}
	require.NoError(t, idx.Upsert(ctx, "x", three))
	require.NoError(t, idx.Upsert(ctx, "y", three[:2]))
	requireHeld(t, idx, 2, 5)

	require.NoError(t, idx.Upsert(ctx, "y", three[2:]))
	requireHeld(t, idx, 1, 3, "x, least recently used, is evicted")
	wm, err := idx.Watermark(ctx, "x")
	require.NoError(t, err)
	require.Zero(t, wm)

	// Deletes give docs back.
	require.NoError(t, idx.Delete(ctx, "y", []int64{1, 2}))
	requireHeld(t, idx, 1, 1)

	// The conversation being written is never evicted for MaxDocs.
	var many []retrieval.Doc
	for i := int64(1); i <= 10; i++ {
		many = append(many, doc(i, tf(2, 1)))
	}
	require.NoError(t, idx.Upsert(ctx, "z", many))
	requireHeld(t, idx, 1, 10)
	wm, err = idx.Watermark(ctx, "z")
	require.NoError(t, err)
	require.Equal(t, int64(10), wm)

	require.NoError(t, idx.DeleteConversation(ctx, "z"))
	requireHeld(t, idx, 0, 0)
}

func TestBM25Exact(t *testing.T) {
	ctx := t.Context()
	idx := newIndex(t, Config{})
	require.NoError(t, idx.Upsert(ctx, "c", []retrieval.Doc{
		doc(1, tf(10, 1), tf(11, 1), tf(12, 1)),
		doc(2, tf(10, 2), tf(13, 1)),
		doc(3, tf(14, 1)),
		doc(4, tf(10, 1), tf(15, 4)),
	}))
	const n, avg = 4.0, (3.0 + 3 + 1 + 5) / 4
	idf := func(df float64) float64 { return math.Log(1 + (n-df+0.5)/(df+0.5)) }
	part := func(tf, length float64) float64 {
		return tf * (k1 + 1) / (tf + k1*(1-b+b*length/avg))
	}
	want := map[int64]float64{
		1: idf(3) * part(1, 3),
		2: idf(3)*part(2, 3) + 0.5*idf(1)*part(1, 3),
		4: idf(3) * part(1, 5),
	}
	res, err := idx.Search(ctx, "c", retrieval.Query{
		Terms: []retrieval.QueryTerm{{ID: 10, Weight: 1}, {ID: 13, Weight: 0.5}, {ID: 99, Weight: 1}},
		Limit: 10,
	})
	require.NoError(t, err)
	require.Equal(t, []int64{2, 1, 4}, []int64{res.Lexical[0].Seq, res.Lexical[1].Seq, res.Lexical[2].Seq})
	for _, h := range res.Lexical {
		require.InDelta(t, want[h.Seq], h.Score, 1e-12, "seq %d", h.Seq)
	}

	// Non-positive weights are ignored; MaxSeq filters hits, not statistics.
	res, err = idx.Search(ctx, "c", retrieval.Query{
		Terms:  []retrieval.QueryTerm{{ID: 10, Weight: 1}, {ID: 13, Weight: 0}, {ID: 11, Weight: -1}},
		Limit:  10,
		MaxSeq: 2,
	})
	require.NoError(t, err)
	require.Len(t, res.Lexical, 2)
	require.InDelta(t, idf(3)*part(2, 3), res.Lexical[0].Score, 1e-12)
	require.InDelta(t, want[1], res.Lexical[1].Score, 1e-12)
}

func TestLimitZeroYieldsNoHits(t *testing.T) {
	ctx := t.Context()
	idx := newIndex(t, Config{})
	require.NoError(t, idx.Upsert(ctx, "c", []retrieval.Doc{doc(1, tf(1, 1))}))
	res, err := idx.Search(ctx, "c", retrieval.Query{Terms: []retrieval.QueryTerm{{ID: 1, Weight: 1}}})
	require.NoError(t, err)
	require.Empty(t, res.Lexical)
}

func TestZeroVectors(t *testing.T) {
	ctx := t.Context()
	idx := newIndex(t, Config{})
	d1, d2 := doc(1), doc(2)
	d1.Dense, d2.Dense = []float32{0, 0}, []float32{1, 0}
	require.NoError(t, idx.Upsert(ctx, "c", []retrieval.Doc{d1, d2}))

	res, err := idx.Search(ctx, "c", retrieval.Query{Dense: []float32{3, 0}, Limit: 10})
	require.NoError(t, err)
	require.Len(t, res.Dense, 1, "a zero doc vector is never a dense hit")
	require.Equal(t, int64(2), res.Dense[0].Seq)
	require.InDelta(t, 1, res.Dense[0].Score, 1e-6)
	docs, err := idx.Get(ctx, "c", []int64{1}, true)
	require.NoError(t, err)
	require.Equal(t, []float32{0, 0}, docs[0].Dense, "but it is kept")

	res, err = idx.Search(ctx, "c", retrieval.Query{Dense: []float32{0, 0}, Limit: 10})
	require.NoError(t, err)
	require.Empty(t, res.Dense, "a zero query has no dense hits")
}

func TestInvalidInput(t *testing.T) {
	ctx := t.Context()
	idx := newIndex(t, Config{})
	d := doc(1, tf(1, 1))
	d.Dense = []float32{1, 0, 0}
	require.NoError(t, idx.Upsert(ctx, "c", []retrieval.Doc{d}))

	bad := doc(3)
	bad.Dense = []float32{1, 0}
	err := idx.Upsert(ctx, "c", []retrieval.Doc{doc(2, tf(1, 1)), bad})
	require.ErrorContains(t, err, "dense dimension 2")
	docs, err := idx.Get(ctx, "c", []int64{2, 3}, true)
	require.NoError(t, err)
	require.Empty(t, docs, "an invalid batch changes nothing")

	err = idx.Upsert(ctx, "c", []retrieval.Doc{doc(4, tf(5, 1), tf(5, 1))})
	require.ErrorContains(t, err, "ascending")
	err = idx.Upsert(ctx, "c", []retrieval.Doc{doc(4, tf(5, 1), tf(4, 1))})
	require.ErrorContains(t, err, "ascending")

	_, err = idx.Search(ctx, "c", retrieval.Query{Dense: []float32{1, 0}, Limit: 1})
	require.ErrorContains(t, err, "dimension")

	// Once its last vector is gone a conversation takes another dimension.
	d5 := doc(5)
	d5.Dense = []float32{0, 1}
	require.NoError(t, idx.Upsert(ctx, "c", []retrieval.Doc{doc(1, tf(1, 1))}))
	require.NoError(t, idx.Upsert(ctx, "c", []retrieval.Doc{d5}))
	res, err := idx.Search(ctx, "c", retrieval.Query{Dense: []float32{0, 2}, Limit: 5})
	require.NoError(t, err)
	require.Equal(t, []retrieval.Hit{{Seq: 5, Score: 1}}, res.Dense)
	got, err := idx.Get(ctx, "c", []int64{5}, true)
	require.NoError(t, err)
	require.Equal(t, []float32{0, 1}, got[0].Dense)

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	require.ErrorIs(t, idx.Upsert(canceled, "c", []retrieval.Doc{doc(9)}), context.Canceled)
	_, err = idx.Search(canceled, "c", retrieval.Query{Limit: 1})
	require.ErrorIs(t, err, context.Canceled)
}

func TestClose(t *testing.T) {
	ctx := t.Context()
	idx := newIndex(t, Config{})
	require.NoError(t, idx.Upsert(ctx, "c", []retrieval.Doc{doc(1, tf(1, 1))}))
	require.NoError(t, idx.Close())
	require.NoError(t, idx.Close())
	require.ErrorIs(t, idx.Upsert(ctx, "c", []retrieval.Doc{doc(2)}), ErrClosed)
	_, err := idx.Watermark(ctx, "c")
	require.ErrorIs(t, err, ErrClosed)
	_, err = idx.Search(ctx, "c", retrieval.Query{Terms: []retrieval.QueryTerm{{ID: 1, Weight: 1}}, Limit: 1})
	require.ErrorIs(t, err, ErrClosed)
	require.ErrorIs(t, idx.DeleteConversation(ctx, "c"), ErrClosed)
}

// TestCompactionPreservesResults replaces and deletes docs until tombstones
// are compacted, and compares every answer with an index that only ever saw
// the surviving docs.
func TestCompactionPreservesResults(t *testing.T) {
	ctx := t.Context()
	churned, fresh := newIndex(t, Config{}), newIndex(t, Config{})
	mk := func(seq int64, round int) retrieval.Doc {
		d := doc(seq, tf(uint32(seq%7), uint32(round+1)), tf(uint32(10+seq%3), 1), tf(100, 1))
		d.CreatedAt = time.Unix(seq, 0).UTC()
		if seq%4 != 0 {
			d.Dense = []float32{float32(seq % 5), float32(round + 1), 1}
		}
		return d
	}
	const n = 150
	for round := range 3 {
		for seq := int64(1); seq <= n; seq++ {
			require.NoError(t, churned.Upsert(ctx, "c", []retrieval.Doc{mk(seq, round)}))
		}
	}
	var deleted []int64
	for seq := int64(1); seq <= n; seq += 3 {
		deleted = append(deleted, seq)
	}
	require.NoError(t, churned.Delete(ctx, "c", deleted))

	var final []retrieval.Doc
	var all []int64
	for seq := int64(1); seq <= n; seq++ {
		all = append(all, seq)
		if (seq-1)%3 != 0 {
			final = append(final, mk(seq, 2))
		}
	}
	require.NoError(t, fresh.Upsert(ctx, "c", final))

	c := churned.convs["c"]
	require.Less(t, c.dead, c.live+compactMinDead, "tombstones were compacted")
	require.Equal(t, len(final), c.live)

	gotDocs, err := churned.Get(ctx, "c", all, true)
	require.NoError(t, err)
	wantDocs, err := fresh.Get(ctx, "c", all, true)
	require.NoError(t, err)
	require.Equal(t, wantDocs, gotDocs)

	for _, q := range []retrieval.Query{
		{Terms: []retrieval.QueryTerm{{ID: 1, Weight: 1}, {ID: 11, Weight: 0.3}, {ID: 100, Weight: 1}}, Limit: 20},
		{Terms: []retrieval.QueryTerm{{ID: 3, Weight: 1}}, Limit: 200, MaxSeq: 90},
		{Dense: []float32{1, 2, 0.5}, Limit: 30},
		{Dense: []float32{0, 1, 0}, Limit: 200, MaxSeq: 40},
	} {
		want, err := fresh.Search(ctx, "c", q)
		require.NoError(t, err)
		got, err := churned.Search(ctx, "c", q)
		require.NoError(t, err)
		require.Equal(t, want, got, "%+v", q)
	}
	wm, err := churned.Watermark(ctx, "c")
	require.NoError(t, err)
	require.Equal(t, int64(n), wm)
}

func TestTopK(t *testing.T) {
	scores := []float64{3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5}
	for limit := 1; limit <= len(scores)+1; limit++ {
		h := topK{limit: limit}
		for i, s := range scores {
			h.push(retrieval.Hit{Seq: int64(i), Score: s})
		}
		got := h.sorted()
		want := []retrieval.Hit{
			{Seq: 5, Score: 9},
			{Seq: 7, Score: 6},
			{Seq: 4, Score: 5},
			{Seq: 8, Score: 5},
			{Seq: 10, Score: 5},
			{Seq: 2, Score: 4},
			{Seq: 0, Score: 3},
			{Seq: 9, Score: 3},
			{Seq: 6, Score: 2},
			{Seq: 1, Score: 1},
			{Seq: 3, Score: 1},
		}
		require.Equal(t, want[:min(limit, len(want))], got, "limit %d", limit)
	}
}

// requireHeld checks the conversations and docs an Index holds; holding
// nothing, it must account no bytes either.
func requireHeld(t *testing.T, idx *Index, convs, docs int, msgAndArgs ...any) {
	t.Helper()
	st := idx.Stats()
	require.Equal(t, [2]int{convs, docs}, [2]int{st.Conversations, st.Docs}, msgAndArgs...)
	if convs == 0 {
		require.Zero(t, st.Bytes, msgAndArgs...)
	} else {
		require.Positive(t, st.Bytes, msgAndArgs...)
	}
}

// TestMaxBytesEvictsWholeConversationsLRU bounds the index by bytes: past
// the bound the least recently used conversations go whole, never the one
// being written, and Stats counts evictions and rebuilds.
func TestMaxBytesEvictsWholeConversationsLRU(t *testing.T) {
	ctx := t.Context()
	many := func(n int) []retrieval.Doc {
		var docs []retrieval.Doc
		for i := int64(1); i <= int64(n); i++ {
			docs = append(docs, doc(i, tf(uint32(i), 1), tf(1_000_000+uint32(i), 2)))
		}
		return docs
	}
	// Measure one conversation of 100 docs, then allow a little over two.
	probe := newIndex(t, Config{})
	require.NoError(t, probe.Upsert(ctx, "p", many(100)))
	one := probe.Stats().Bytes
	require.Positive(t, one)

	idx := newIndex(t, Config{MaxBytes: one * 5 / 2})
	require.Zero(t, idx.Stats().Evictions)
	for _, conv := range []string{"a", "b"} {
		require.NoError(t, idx.Upsert(ctx, conv, many(100)))
	}
	requireHeld(t, idx, 2, 200)
	// Reading a makes b the least recently used; c pushes it out.
	_, err := idx.Watermark(ctx, "a")
	require.NoError(t, err)
	require.NoError(t, idx.Upsert(ctx, "c", many(100)))
	requireHeld(t, idx, 2, 200)
	st := idx.Stats()
	require.LessOrEqual(t, st.Bytes, one*5/2)
	require.Equal(t, int64(1), st.Evictions)
	require.Equal(t, int64(3), st.Rebuilds)
	for conv, want := range map[string]int64{"a": 100, "b": 0, "c": 100} {
		wm, err := idx.Watermark(ctx, conv)
		require.NoError(t, err)
		require.Equal(t, want, wm, conv)
	}

	// A conversation bigger than the bound on its own is kept while it is
	// written: everything else goes.
	require.NoError(t, idx.Upsert(ctx, "big", many(400)))
	requireHeld(t, idx, 1, 400)
	st = idx.Stats()
	require.Equal(t, int64(3), st.Evictions)
	require.Equal(t, int64(4), st.Rebuilds)
	require.Greater(t, st.Bytes, one*5/2)

	// Rebuilding b counts once more; deletes give bytes back.
	require.NoError(t, idx.Upsert(ctx, "b", many(10)))
	require.Equal(t, int64(5), idx.Stats().Rebuilds)
	require.NoError(t, idx.DeleteConversation(ctx, "big"))
	require.NoError(t, idx.DeleteConversation(ctx, "b"))
	requireHeld(t, idx, 0, 0)
}

// TestBytesTrackGrowth: the measured size grows with the docs held, about
// linearly, and shrinks back when they are deleted.
func TestBytesTrackGrowth(t *testing.T) {
	ctx := t.Context()
	idx := newIndex(t, Config{})
	var sizes []int64
	for round := range 4 {
		var docs []retrieval.Doc
		for i := range 500 {
			seq := int64(round*500 + i + 1)
			docs = append(docs, doc(seq, tf(uint32(seq%50), 1), tf(uint32(seq)*7919, 1)))
		}
		require.NoError(t, idx.Upsert(ctx, "c", docs))
		sizes = append(sizes, idx.Stats().Bytes)
	}
	for i := 1; i < len(sizes); i++ {
		require.Greater(t, sizes[i], sizes[i-1])
		require.InEpsilon(t, sizes[0]*int64(i+1), sizes[i], 0.5, "size %d after %d docs", sizes[i], (i+1)*500)
	}
	var seqs []int64
	for s := int64(1); s <= 1900; s++ {
		seqs = append(seqs, s)
	}
	require.NoError(t, idx.Delete(ctx, "c", seqs))
	require.Less(t, idx.Stats().Bytes, sizes[0], "compaction gives the bytes of deleted docs back")
}
