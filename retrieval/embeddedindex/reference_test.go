package embeddedindex

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/retrieval"
)

// reference is the straightforward index the compact one must agree with:
// a map of the live docs, scored by walking every doc.
type reference map[int64]retrieval.Doc

func (r reference) search(q retrieval.Query) retrieval.Result {
	var res retrieval.Result
	if q.Limit <= 0 || len(r) == 0 {
		return res
	}
	var sumLen float64
	df := map[uint32]int{}
	for _, d := range r {
		sumLen += float64(d.Length)
		for _, t := range d.Terms {
			if t.Count > 0 {
				df[t.ID]++
			}
		}
	}
	n := float64(len(r))
	avg := sumLen / n
	if avg <= 0 {
		avg = 1
	}
	var lex, dense []retrieval.Hit
	for _, d := range r {
		if q.MaxSeq > 0 && d.Seq > q.MaxSeq {
			continue
		}
		score, matched := 0.0, false
		for _, qt := range q.Terms {
			i, ok := slices.BinarySearchFunc(d.Terms, qt.ID, func(t retrieval.TermFreq, id uint32) int { return cmp.Compare(t.ID, id) })
			if !ok || d.Terms[i].Count == 0 || !(qt.Weight > 0) {
				continue
			}
			f := float64(df[qt.ID])
			idf := math.Log(1 + (n-f+0.5)/(f+0.5))
			tf := float64(d.Terms[i].Count)
			score += float64(qt.Weight) * idf * tf * (k1 + 1) / (tf + k1*(1-b+b*float64(d.Length)/avg))
			matched = true
		}
		if matched {
			lex = append(lex, retrieval.Hit{Seq: d.Seq, Score: score})
		}
		if len(q.Dense) > 0 && len(d.Dense) > 0 {
			dn, qn := math.Sqrt(dot64(d.Dense, d.Dense)), math.Sqrt(dot64(q.Dense, q.Dense))
			if dn > 0 && qn > 0 {
				dense = append(dense, retrieval.Hit{Seq: d.Seq, Score: dot64(q.Dense, d.Dense) / dn / qn})
			}
		}
	}
	top := func(hs []retrieval.Hit) []retrieval.Hit {
		slices.SortFunc(hs, func(a, b retrieval.Hit) int {
			if c := cmp.Compare(b.Score, a.Score); c != 0 {
				return c
			}
			return cmp.Compare(a.Seq, b.Seq)
		})
		return hs[:min(len(hs), q.Limit)]
	}
	if len(q.Terms) > 0 {
		res.Lexical = top(lex)
	}
	if q.Dense != nil {
		res.Dense = top(dense)
	}
	return res
}

func dot64(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

// requireSameHits compares ranked lists: the same seqs in the same order,
// scores within tol (hits whose scores tie within it may swap). BM25 is
// computed in float64 (tol 1e-9), cosine over float32 vectors (1e-5).
func requireSameHits(t *testing.T, want, got []retrieval.Hit, tol float64, what string) {
	t.Helper()
	require.Len(t, got, len(want), what)
	for i := range want {
		require.InDelta(t, want[i].Score, got[i].Score, tol, "%s: hit %d", what, i)
		if want[i].Seq != got[i].Seq {
			require.InDelta(t, got[i].Score, want[i].Score, tol, "%s: hit %d: seq %d, want %d", what, i, got[i].Seq, want[i].Seq)
			j := slices.IndexFunc(want, func(h retrieval.Hit) bool { return h.Seq == got[i].Seq })
			require.True(t, j < 0 || math.Abs(want[j].Score-got[i].Score) <= tol, "%s: hit %d: seq %d misplaced", what, i, got[i].Seq)
		}
	}
}

// randomDoc is a doc over a skewed vocabulary of small and full-width ids,
// with counts mostly 1 (sometimes 0, which is stored but never matched),
// with or without a caption, a name and a vector.
func randomDoc(r *rand.Rand, seq int64, vocab []uint32, dim int) retrieval.Doc {
	counts := map[uint32]uint32{}
	for range 1 + r.IntN(30) {
		id := vocab[int(math.Pow(r.Float64(), 3)*float64(len(vocab)))]
		counts[id]++
	}
	if r.IntN(10) == 0 {
		counts[vocab[r.IntN(len(vocab))]] = 0
	}
	d := retrieval.Doc{Seq: seq, Role: []string{"user", "assistant"}[r.IntN(2)],
		Content: string(rune('a' + r.IntN(26))), Tokens: r.IntN(100), LineTokens: r.IntN(100)}
	if r.IntN(3) == 0 {
		d.Name = []string{"Mira", "Tomas", "Ines"}[r.IntN(3)]
	}
	if r.IntN(5) == 0 {
		d.Caption = "a photo of a kite"
	}
	if r.IntN(4) != 0 {
		d.CreatedAt = time.Unix(1_700_000_000+seq*3600, int64(r.IntN(1e9))).UTC()
	}
	for id, n := range counts {
		d.Terms = append(d.Terms, retrieval.TermFreq{ID: id, Count: n})
		d.Length += int(n)
	}
	slices.SortFunc(d.Terms, func(a, b retrieval.TermFreq) int { return cmp.Compare(a.ID, b.ID) })
	if dim > 0 && r.IntN(6) != 0 {
		d.Dense = make([]float32, dim)
		if r.IntN(20) != 0 { // else a zero vector
			for i := range d.Dense {
				d.Dense[i] = float32(r.NormFloat64())
			}
		}
	}
	return d
}

// TestMatchesReference drives the index through appends, replacements and
// deletes (so that tails are flushed, segments merged and tombstones
// compacted) and compares every search and every Get with the reference.
func TestMatchesReference(t *testing.T) {
	for _, dim := range []int{0, 7} {
		r := rand.New(rand.NewPCG(13, uint64(dim)))
		vocab := make([]uint32, 400)
		for i := range vocab {
			if i%2 == 0 {
				vocab[i] = uint32(i)
			} else {
				vocab[i] = r.Uint32()
			}
		}
		ctx := t.Context()
		idx := newIndex(t, Config{})
		ref := reference{}
		next := int64(1)
		check := func(step int) {
			for range 8 {
				q := retrieval.Query{Limit: 1 + r.IntN(60)}
				for range 1 + r.IntN(6) {
					w := []float32{1, 1, 0.5, 0.1, 0, -1}[r.IntN(6)]
					q.Terms = append(q.Terms, retrieval.QueryTerm{ID: vocab[r.IntN(len(vocab))], Weight: w})
				}
				if r.IntN(3) == 0 {
					q.MaxSeq = 1 + r.Int64N(next)
				}
				if dim > 0 {
					q.Dense = randomDoc(r, 0, vocab, dim).Dense
				}
				got, err := idx.Search(ctx, "c", q)
				require.NoError(t, err)
				want := ref.search(q)
				requireSameHits(t, want.Lexical, got.Lexical, 1e-9, "lexical")
				requireSameHits(t, want.Dense, got.Dense, 1e-5, "dense")
			}
			seqs := make([]int64, 0, next)
			for s := range next + 1 {
				seqs = append(seqs, s)
			}
			docs, err := idx.Get(ctx, "c", seqs, true)
			require.NoError(t, err)
			require.Len(t, docs, len(ref), "step %d", step)
			for _, d := range docs {
				want := ref[d.Seq]
				require.True(t, want.CreatedAt.Equal(d.CreatedAt), "seq %d", d.Seq)
				want.CreatedAt, d.CreatedAt = time.Time{}, time.Time{}
				require.Equal(t, want, d, "seq %d", d.Seq)
			}
		}
		for step := range 60 {
			var batch []retrieval.Doc
			for range 1 + r.IntN(120) {
				seq := next
				if next > 1 && r.IntN(5) == 0 {
					seq = 1 + r.Int64N(next-1) // replace an older doc
				} else {
					next++
				}
				d := randomDoc(r, seq, vocab, dim)
				batch = append(batch, d)
			}
			require.NoError(t, idx.Upsert(ctx, "c", batch))
			for _, d := range batch {
				ref[d.Seq] = d
			}
			if r.IntN(3) == 0 {
				var del []int64
				for range r.IntN(80) {
					s := 1 + r.Int64N(next)
					del = append(del, s)
					delete(ref, s)
				}
				require.NoError(t, idx.Delete(ctx, "c", del))
			}
			check(step)
		}
		c := idx.convs["c"]
		require.Greater(t, len(c.segs), 1, "segments were built")
		require.Positive(t, c.dead, "replacements left tombstones")

		// Delete four in five docs: the tombstones are compacted away, and
		// the index goes on agreeing, before and after more appends.
		var del []int64
		for s := range next {
			if s%5 != 0 {
				del = append(del, s)
				delete(ref, s)
			}
		}
		require.NoError(t, idx.Delete(ctx, "c", del))
		require.Zero(t, c.dead, "compacted")
		check(-1)
		for range 5 {
			var batch []retrieval.Doc
			for range 50 {
				batch = append(batch, randomDoc(r, next, vocab, dim))
				next++
			}
			require.NoError(t, idx.Upsert(ctx, "c", batch))
			for _, d := range batch {
				ref[d.Seq] = d
			}
			check(-2)
		}
	}
}
