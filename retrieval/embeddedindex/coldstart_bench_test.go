package embeddedindex

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/memory"
	"github.com/longmem/longmem/memory/embedded"
	"github.com/longmem/longmem/retrieval"
)

// BenchmarkColdStart measures the first context assembly of a 50,000-turn
// conversation after a restart: the embedded store holds the turns, the
// index is empty (a new process), so the assembly reads every turn from
// the store, analyses it and builds the conversation's index before it
// searches. ms/op is that first /context's latency, what a user waits for
// after a deploy or an eviction.
func BenchmarkColdStart(b *testing.B) {
	const turns = 50_000
	ctx := context.Background()
	st, err := embedded.Open(embedded.Config{Dir: b.TempDir()})
	require.NoError(b, err)
	defer st.Close()
	tok, err := retrieval.NewTokenizer(retrieval.TokenizerConfig{})
	require.NoError(b, err)
	words := newChatWords(rand.New(rand.NewPCG(50, 1)))
	_, err = st.CreateConversation(ctx, memory.Conversation{ID: "c"})
	require.NoError(b, err)
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for from := 0; from < turns; from += 1000 {
		batch := make([]memory.Turn, 0, 1000)
		for i := from; i < from+1000; i++ {
			content := words.turn()
			batch = append(batch, memory.Turn{Role: memory.RoleUser, Name: "Mira", Content: content,
				CreatedAt: t0.Add(time.Duration(i) * time.Minute), Tokens: tok.Count(content)})
		}
		_, err := st.AppendTurns(ctx, "", "c", batch, memory.AppendOptions{})
		require.NoError(b, err)
	}
	question := "what did we say about " + words.turn()
	b.ResetTimer()
	for b.Loop() {
		idx, err := New(Config{})
		require.NoError(b, err)
		ix := retrieval.NewIndexer(st, idx, retrieval.NewAnalyzer(retrieval.AnalyzerConfig{}), tok, nil)
		asm := retrieval.NewAssembler(retrieval.AssemblerConfig{}, st, ix, tok)
		req := retrieval.Request{ConversationID: "c", BudgetTokens: 2048}
		req.Message.Content = question
		_, err = asm.Assemble(ctx, req)
		require.NoError(b, err)
		b.StopTimer()
		require.NoError(b, idx.Close())
		b.StartTimer()
	}
}
