package retrieval_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/memory"
	"github.com/longmem/longmem/retrieval"
)

// BenchmarkAssemble measures one context assembly (recall over the whole
// conversation, packing, rendering) at a 2,048-token budget, after the index
// is warm, for conversations of 1,000 to 50,000 turns.
func BenchmarkAssemble(b *testing.B) {
	for _, emb := range []string{"none", "static"} {
		for _, n := range []int{1000, 10000, 50000} {
			b.Run(fmt.Sprintf("embedder=%s/turns=%d", emb, n), func(b *testing.B) {
				var e retrieval.Embedder
				if emb == "static" {
					e = benchStatic(b)
					if e == nil {
						b.Skip("static embedder not available")
					}
				}
				r := newRig(b, retrieval.AssemblerConfig{}, e)
				rng := rand.New(rand.NewPCG(uint64(n), 42))
				r.fill(b, "c", filler(rng, n))
				questions := filler(rng, 64)
				ctx := context.Background()
				req := retrieval.Request{ConversationID: "c", BudgetTokens: 2048}
				req.Message.Content = questions[0]
				_, err := r.asm.Assemble(ctx, req) // warm the index
				require.NoError(b, err)
				b.ResetTimer()
				i := 0
				for b.Loop() {
					req.Message.Content = questions[i%len(questions)]
					i++
					if _, err := r.asm.Assemble(ctx, req); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkAssembleWithSummaries is BenchmarkAssemble (no embedder) on a
// conversation that also has a level-0 summary for every 20 turns older
// than the last 100, as compaction leaves it: the cost of choosing
// summaries by relevance over thousands of them.
func BenchmarkAssembleWithSummaries(b *testing.B) {
	for _, n := range []int{1000, 10000, 50000} {
		b.Run(fmt.Sprintf("turns=%d", n), func(b *testing.B) {
			r := newRig(b, retrieval.AssemblerConfig{}, nil)
			rng := rand.New(rand.NewPCG(uint64(n), 43))
			r.fill(b, "c", filler(rng, n))
			ss := any(r.store).(memory.SummaryStore)
			ctx := context.Background()
			for from := 1; from+19 <= n-100; from += 20 {
				content := strings.Join(filler(rng, 4), " ")
				_, err := ss.AddSummary(ctx, "", "c", memory.Summary{Level: 0, FromSeq: int64(from), ToSeq: int64(from + 19),
					FromTime: day0.Add(time.Duration(from-1) * time.Hour), ToTime: day0.Add(time.Duration(from+18) * time.Hour),
					Content: content, Tokens: r.tok.Count(content)})
				require.NoError(b, err)
			}
			questions := filler(rng, 64)
			req := retrieval.Request{ConversationID: "c", BudgetTokens: 2048}
			req.Message.Content = questions[0]
			_, err := r.asm.Assemble(ctx, req)
			require.NoError(b, err)
			b.ResetTimer()
			i := 0
			for b.Loop() {
				req.Message.Content = questions[i%len(questions)]
				i++
				if _, err := r.asm.Assemble(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
