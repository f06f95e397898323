package embeddedindex

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/memory"
	"github.com/longmem/longmem/retrieval"
)

// chatWords is a synthetic chat vocabulary: frequent function words mixed
// into 8,000 pseudo-words (consonant-vowel syllables), drawn Zipf-like so
// a long conversation has a long tail of rare words and rarer word pairs,
// as real chats do.
type chatWords struct {
	common []string
	rare   []string
	zipf   *rand.Zipf
	r      *rand.Rand
}

func newChatWords(r *rand.Rand) *chatWords {
	w := &chatWords{r: r, common: strings.Fields(
		"i you we the a to and of it is was in that my for on with so but just " +
			"have had do did not what how when this me be at about like yes no really")}
	syll := strings.Fields("ka lo mi ne ru sa ti vo pe da fi gu ha je ko lu ma ni po re se ta un ve wo ya zi bel cor dan fen gar hol")
	seen := map[string]bool{}
	for len(w.rare) < 8000 {
		var sb strings.Builder
		for range 2 + r.IntN(3) {
			sb.WriteString(syll[r.IntN(len(syll))])
		}
		if s := sb.String(); !seen[s] {
			seen[s] = true
			w.rare = append(w.rare, s)
		}
	}
	w.zipf = rand.NewZipf(r, 1.1, 4, uint64(len(w.rare)-1))
	return w
}

// turn is one chat line of 6 to 40 words, about half of them function words.
func (w *chatWords) turn() string {
	n := 6 + w.r.IntN(35)
	ws := make([]string, n)
	for i := range ws {
		if w.r.IntN(2) == 0 {
			ws[i] = w.common[w.r.IntN(len(w.common))]
		} else {
			ws[i] = w.rare[w.zipf.Uint64()]
		}
	}
	return strings.Join(ws, " ") + "."
}

// writeVectors writes a 100-dimensional GloVe-format file for the
// vocabulary (the shape of the static vectors users point the static
// embedder at).
func (w *chatWords) writeVectors(b *testing.B) string {
	var sb strings.Builder
	for _, word := range append(append([]string{}, w.common...), w.rare...) {
		sb.WriteString(word)
		for range 100 {
			fmt.Fprintf(&sb, " %.4f", w.r.NormFloat64())
		}
		sb.WriteString("\n")
	}
	path := filepath.Join(b.TempDir(), "vectors.txt")
	require.NoError(b, os.WriteFile(path, []byte(sb.String()), 0o600))
	return path
}

// heapInUse is the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkMemory builds a 10,000-turn conversation through the
// production path (retrieval's analyzer and tokenizer, and with
// embedder=static 100-dimensional static word vectors) and reports the
// heap the index holds per turn, from runtime.MemStats after a full GC
// (bytes/turn; the turn texts the index keeps are included), and the
// index's own estimate of it (est-bytes/turn, what MaxBytes is enforced
// against).
func BenchmarkMemory(b *testing.B) {
	const turns = 10_000
	for _, emb := range []string{"none", "static"} {
		b.Run("embedder="+emb, func(b *testing.B) {
			ctx := b.Context()
			tok, err := retrieval.NewTokenizer(retrieval.TokenizerConfig{})
			require.NoError(b, err)
			var perTurn, est float64
			for b.Loop() {
				words := newChatWords(rand.New(rand.NewPCG(10, 1)))
				var e retrieval.Embedder
				if emb == "static" {
					s, err := retrieval.LoadStatic(words.writeVectors(b), retrieval.StaticOptions{})
					require.NoError(b, err)
					e = s
				}
				ixr := retrieval.NewIndexer(nil, nil, retrieval.NewAnalyzer(retrieval.AnalyzerConfig{}), tok, e)
				before := heapInUse()
				idx, err := New(Config{})
				require.NoError(b, err)
				t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
				for from := 1; from <= turns; from += 500 {
					batch := make([]memory.Turn, 0, 500)
					for seq := from; seq < from+500; seq++ {
						role, name := memory.RoleUser, "Mira"
						if seq%2 == 0 {
							role, name = memory.RoleAssistant, "Orla"
						}
						content := words.turn()
						batch = append(batch, memory.Turn{Seq: int64(seq), Role: role, Name: name, Content: content,
							CreatedAt: t0.Add(time.Duration(seq) * time.Minute), Tokens: tok.Count(content)})
					}
					docs, err := ixr.Docs(ctx, batch)
					require.NoError(b, err)
					require.NoError(b, idx.Upsert(ctx, "c", docs))
				}
				after := heapInUse()
				perTurn = float64(int64(after)-int64(before)) / turns
				est = float64(idx.Stats().Bytes) / turns
				runtime.KeepAlive(e)
				require.NoError(b, idx.Close())
			}
			b.ReportMetric(perTurn, "bytes/turn")
			b.ReportMetric(est, "est-bytes/turn")
		})
	}
}
