package retrieval_test

import (
	"context"
	"math/rand/v2"
	"strings"
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
			persona := "You are Mel, a warm and witty painter who remembers everything Ines tells her."
			policy := retrieval.BudgetPolicy{RecentMaxTurns: 30, RecentShare: 0.5}
			var prev retrieval.Context
			kept := 0
			for n := range 21 {
				if n > 0 {
					appendExchange(t, r, rng, 300+2*n)
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

// appendExchange appends a user turn and a reply to conversation "c", hour
// h and h+1 after day0.
func appendExchange(t *testing.T, r *rig, rng *rand.Rand, h int) {
	t.Helper()
	_, err := r.store.AppendTurns(context.Background(), "", "c", []memory.Turn{
		{Role: memory.RoleUser, Name: "Ines", Content: filler(rng, 1)[0], CreatedAt: day0.Add(time.Duration(h) * time.Hour)},
		{Role: memory.RoleAssistant, Name: "Tomas", Content: filler(rng, 1)[0], CreatedAt: day0.Add(time.Duration(h+1) * time.Hour)},
	}, memory.AppendOptions{})
	require.NoError(t, err)
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

func render(c retrieval.Context) string {
	var b strings.Builder
	for _, m := range c.Messages {
		b.WriteString(m.Role + "\x00" + m.Name + "\x00" + m.Content + "\x01")
	}
	return b.String()
}

// TestPrefixRatioByRecentShare measures the shared-prefix ratio of
// consecutive chat prompts (a 240-token persona, a 4,000-token budget,
// 1,000 earlier turns) by recent share and layout, and checks the cache
// layout reuses more the larger the recent window, and always more than
// the chronological one. Figures: go test -run PrefixRatio -v ./retrieval/
func TestPrefixRatioByRecentShare(t *testing.T) {
	var last float64
	for _, share := range []float64{0.15, 0.3, 0.45, 0.6} {
		for _, layout := range []string{"cache", "chronological"} {
			r := newRig(t, retrieval.AssemblerConfig{Layout: layout}, nil)
			rng := rand.New(rand.NewPCG(5, 6))
			r.fill(t, "c", filler(rng, 1000))
			persona := strings.Repeat("You are Mel, a warm and witty painter who remembers everything Ines tells her. ", 12)
			policy := retrieval.BudgetPolicy{RecentShare: share, RecentMaxTurns: 200}
			prev := ""
			sum, n := 0.0, 0
			for i := range 21 {
				if i > 0 {
					appendExchange(t, r, rng, 1000+2*i)
				}
				out, err := r.asm.Assemble(context.Background(), retrieval.Request{ConversationID: "c", Persona: persona, Policy: &policy,
					Message: retrieval.Message{Role: "user", Content: filler(rng, 1)[0]}, BudgetTokens: 4000})
				require.NoError(t, err)
				cur := render(out)
				if prev != "" {
					k := 0
					for k < len(prev) && k < len(cur) && prev[k] == cur[k] {
						k++
					}
					sum += float64(r.tok.Count(cur[:k])) / float64(r.tok.Count(cur))
					n++
				}
				prev = cur
			}
			ratio := sum / float64(n)
			t.Logf("recent_share %.2f layout %s: mean prefix ratio %.3f", share, layout, ratio)
			switch layout {
			case "cache":
				require.Greater(t, ratio, last, "a larger recent window is a longer shared prefix")
				require.Greater(t, ratio, share*0.7, "the recent window is reused")
				last = ratio
			default:
				require.Less(t, ratio, 0.1, "the chronological layout changes right after the persona")
			}
		}
	}
}

// A one-day summary whose content already opens with its date (as the
// extractive summarizer writes it) is not given the date a second time.
func TestSummaryDateNotRepeated(t *testing.T) {
	r := newRig(t, retrieval.AssemblerConfig{SummaryCoverShare: 1}, nil)
	r.fill(t, "c", filler(rand.New(rand.NewPCG(7, 8)), 150))
	ss, ok := any(r.store).(memory.SummaryStore)
	require.True(t, ok)
	content := "[8 May 2023] Ines: I adopted a greyhound named Biscuit."
	_, err := ss.AddSummary(context.Background(), "", "c", memory.Summary{Level: 0, FromSeq: 1, ToSeq: 10, FromTime: day0, ToTime: day0.Add(9 * time.Hour),
		Content: content, Tokens: r.tok.Count(content)})
	require.NoError(t, err)
	content2 := "Tomas talked about the lake."
	_, err = ss.AddSummary(context.Background(), "", "c", memory.Summary{Level: 0, FromSeq: 11, ToSeq: 20, FromTime: day0.Add(10 * time.Hour), ToTime: day0.Add(34 * time.Hour),
		Content: content2, Tokens: r.tok.Count(content2)})
	require.NoError(t, err)
	out := ask(t, r, "c", "zzz qqq?", 3000) // relevant to no summary: the coarse cover holds both
	text := systemText(out)
	require.Contains(t, text, content)
	require.Equal(t, 1, strings.Count(text, "[8 May 2023]"), "the date once:\n%s", text)
	require.Contains(t, text, "[8 May 2023 – 9 May 2023]\n"+content2, "a summary without its date gets the range header")
	require.LessOrEqual(t, exactTokens(r.tok, out.Messages, 4), out.Report.UsedTokens)
}
