package embeddedindex

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/longmem/longmem/retrieval"
)

const (
	benchVocab     = 20_000 // distinct terms, Zipf-distributed
	benchDocTerms  = 20     // term occurrences per doc
	benchQueryTerm = 5
	benchDim       = 100
	benchLimit     = 50
)

// benchIndex holds one conversation of n docs, each with benchDocTerms
// occurrences drawn from a Zipf vocabulary and a unit vector of benchDim;
// deterministic for a given n.
func benchIndex(b *testing.B, n int) (*Index, *rand.Rand, *rand.Zipf) {
	b.Helper()
	r := rand.New(rand.NewPCG(1, uint64(n)))
	zipf := rand.NewZipf(r, 1.07, 2, benchVocab-1)
	idx, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	const batch = 512
	docs := make([]retrieval.Doc, 0, batch)
	for seq := int64(1); seq <= int64(n); seq++ {
		counts := map[uint32]uint32{}
		for range benchDocTerms {
			counts[uint32(zipf.Uint64())]++
		}
		terms := make([]retrieval.TermFreq, 0, len(counts))
		for id, c := range counts {
			terms = append(terms, retrieval.TermFreq{ID: id, Count: c})
		}
		slices.SortFunc(terms, func(a, b retrieval.TermFreq) int { return int(a.ID) - int(b.ID) })
		docs = append(docs, retrieval.Doc{
			Seq: seq, Role: "user", Content: "x", Terms: terms, Length: benchDocTerms,
			Dense: randomUnit(r),
		})
		if len(docs) == batch || seq == int64(n) {
			if err := idx.Upsert(b.Context(), "bench", docs); err != nil {
				b.Fatal(err)
			}
			docs = docs[:0]
		}
	}
	return idx, r, zipf
}

func randomUnit(r *rand.Rand) []float32 {
	v := make([]float32, benchDim)
	var s float64
	for i := range v {
		x := r.NormFloat64()
		v[i] = float32(x)
		s += x * x
	}
	inv := 1 / math.Sqrt(s)
	for i := range v {
		v[i] *= float32(inv)
	}
	return v
}

// BenchmarkSearch measures one Search of a conversation of 1k, 10k and 50k
// docs: lexical (a 5-term query from the same Zipf vocabulary), dense
// (cosine over 100-dim vectors) and both at once, top 50 each. Queries cycle
// through 64 precomputed ones.
func BenchmarkSearch(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 50_000} {
		b.Run(fmt.Sprintf("docs=%d", n), func(b *testing.B) {
			idx, r, zipf := benchIndex(b, n)
			defer idx.Close()
			queries := make([]retrieval.Query, 64)
			for i := range queries {
				terms := make([]retrieval.QueryTerm, benchQueryTerm)
				for j := range terms {
					terms[j] = retrieval.QueryTerm{ID: uint32(zipf.Uint64()), Weight: 1}
				}
				queries[i] = retrieval.Query{Terms: terms, Dense: randomUnit(r), Limit: benchLimit}
			}
			for _, mode := range []string{"lexical", "dense", "both"} {
				qs := slices.Clone(queries)
				for i := range qs {
					switch mode {
					case "lexical":
						qs[i].Dense = nil
					case "dense":
						qs[i].Terms = nil
					}
				}
				b.Run(mode, func(b *testing.B) {
					ctx := b.Context()
					i := 0
					for b.Loop() {
						if _, err := idx.Search(ctx, "bench", qs[i%len(qs)]); err != nil {
							b.Fatal(err)
						}
						i++
					}
				})
			}
		})
	}
}

// BenchmarkUpsert measures appending one doc at a time to a conversation.
func BenchmarkUpsert(b *testing.B) {
	idx, r, zipf := benchIndex(b, 1_000)
	defer idx.Close()
	ctx := b.Context()
	seq := int64(1_000)
	for b.Loop() {
		seq++
		counts := map[uint32]uint32{}
		for range benchDocTerms {
			counts[uint32(zipf.Uint64())]++
		}
		terms := make([]retrieval.TermFreq, 0, len(counts))
		for id, c := range counts {
			terms = append(terms, retrieval.TermFreq{ID: id, Count: c})
		}
		slices.SortFunc(terms, func(a, b retrieval.TermFreq) int { return int(a.ID) - int(b.ID) })
		d := retrieval.Doc{Seq: seq, Terms: terms, Length: benchDocTerms, Dense: randomUnit(r)}
		if err := idx.Upsert(ctx, "bench", []retrieval.Doc{d}); err != nil {
			b.Fatal(err)
		}
	}
}
