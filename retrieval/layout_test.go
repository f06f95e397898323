package retrieval_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/memory"
	"github.com/longmem/longmem/retrieval"
)

// TestCacheLayoutKeepsThePrefixAcrossReplies plays a chat: after every
// exchange the next context is assembled. With the cache layout the
// prompt of reply n+1 starts with the whole prompt of reply n up to the
// end of its recent window (persona, then recent turns), except when the
// window's start jumps to the next block of RecentBlock seqs.
func TestCacheLayoutKeepsThePrefixAcrossReplies(t *testing.T) {
	for _, tc := range []struct {
		name  string
		block int
		want  int // transitions of 20 that keep the whole window, at least
	}{
		{"sticky window", 0, 15},
		{"window moves every turn", 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, retrieval.AssemblerConfig{RecentBlock: tc.block}, nil)
			rng := rand.New(rand.NewPCG(5, 6))
			r.fill(t, "c", filler(rng, 300))
			persona := "You are Mel, a warm and witty painter who remembers everything Caroline tells her."
			policy := retrieval.BudgetPolicy{RecentMaxTurns: 30, RecentShare: 0.5}
			var prev retrieval.Context
			kept := 0
			for n := range 21 {
				if n > 0 {
					_, err := r.store.AppendTurns(context.Background(), "", "c", []memory.Turn{
						{Role: memory.RoleUser, Name: "Caroline", Content: filler(rng, 1)[0], CreatedAt: day0.Add(time.Duration(300+2*n) * time.Hour)},
						{Role: memory.RoleAssistant, Name: "Melanie", Content: filler(rng, 1)[0], CreatedAt: day0.Add(time.Duration(301+2*n) * time.Hour)},
					}, memory.AppendOptions{})
					require.NoError(t, err)
				}
				out, err := r.asm.Assemble(context.Background(), retrieval.Request{ConversationID: "c", Persona: persona, Policy: &policy,
					Message: retrieval.Message{Role: "user", Content: filler(rng, 1)[0]}, BudgetTokens: 2000})
				require.NoError(t, err)
				require.Equal(t, "system", out.Messages[0].Role)
				require.Equal(t, persona, out.Messages[0].Content, "the persona alone opens every prompt")
				recent := recentSeqs(out)
				require.NotEmpty(t, recent)
				if tc.block == 0 {
					require.EqualValues(t, 1, (recent[0]-1)%8+1, "the window starts a block of 8 seqs: %v", recent)
				}
				if n > 0 {
					prevRecent := recentSeqs(prev)
					head := prev.Messages[:1+len(prevRecent)]
					if len(out.Messages) >= len(head) && equalMessages(head, out.Messages[:len(head)]) {
						kept++
					}
				}
				prev = out
			}
			require.GreaterOrEqual(t, kept, tc.want, "replies whose prompt kept the previous prompt's persona and recent window as its prefix")
			if tc.block == 1 {
				require.Zero(t, kept, "a window that slides with every turn never keeps the prefix")
			}
		})
	}
}

func recentSeqs(c retrieval.Context) []int64 {
	var out []int64
	for _, tr := range c.Report.Turns {
		if tr.Section == retrieval.SectionRecent {
			out = append(out, tr.Seq)
		}
	}
	return out
}

func equalMessages(a, b []retrieval.Message) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
