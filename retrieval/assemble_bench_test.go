package retrieval_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

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
