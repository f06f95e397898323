package retrieval

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/pkoukk/tiktoken-go"
	tiktokenloader "github.com/pkoukk/tiktoken-go-loader"
	"github.com/stretchr/testify/require"
)

// reference is tiktoken-go's own encoder for enc, the counts Count must
// equal.
func reference(t *testing.T, enc, pattern string) *tiktoken.Tiktoken {
	t.Helper()
	ranks, err := tiktokenloader.NewOfflineLoader().LoadTiktokenBpe(enc + ".tiktoken")
	require.NoError(t, err)
	core, err := tiktoken.NewCoreBPE(ranks, map[string]int{}, pattern)
	require.NoError(t, err)
	return tiktoken.NewTiktoken(core, &tiktoken.Encoding{Name: enc, PatStr: pattern, MergeableRanks: ranks}, map[string]any{})
}

// mixedText is n runes drawn (deterministically from seed) from an
// alphabet of letters, digits, CJK, punctuation, spaces and newlines, in
// runs, so that long pieces of every kind occur.
func mixedText(seed uint64, n int) string {
	r := rand.New(rand.NewPCG(seed, 1))
	alphabets := []string{"abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJ", "0123456789", "面包店每天早上七点开门楼下的", " ", "\n\r", "!?.,;:'\"-()[]{}<>/\\", "éüßøñ", "’“”…—"}
	var b strings.Builder
	for i := 0; i < n; {
		a := []rune(alphabets[r.IntN(len(alphabets))])
		run := 1 + r.IntN(40)
		for k := 0; k < run && i < n; k, i = k+1, i+1 {
			b.WriteRune(a[r.IntN(len(a))])
		}
	}
	return b.String()
}

// TestTokenizerMatchesTiktoken: the heap merge counts exactly what
// tiktoken's encoder makes, on ordinary text and on long pieces of every
// kind (the assembler relies on counts that never undercount).
func TestTokenizerMatchesTiktoken(t *testing.T) {
	texts := []string{
		"", "a", "hello world", "tiktoken is great!",
		"Morning! The ferry was late again, so I read half a novel on the pier.",
		"楼下的面包店每天早上七点开门，我总是买两个菠萝包。",
		strings.Repeat("a", 3000), strings.Repeat("ab", 1500), strings.Repeat(" ", 2000) + "x",
		strings.Repeat("!", 2000), strings.Repeat("1", 2000), strings.Repeat("\n", 500),
		strings.Repeat("面包", 700), strings.Repeat("aé", 900), strings.Repeat("Hello", 400),
	}
	for seed := range uint64(20) {
		texts = append(texts, mixedText(seed, 1500))
	}
	for _, enc := range []struct{ name, pattern string }{{"cl100k_base", patternCL100K}, {"o200k_base", patternO200K}} {
		tok, err := NewTokenizer(TokenizerConfig{Encoding: enc.name})
		require.NoError(t, err)
		ref := reference(t, enc.name, enc.pattern)
		for i, text := range texts {
			require.Equal(t, len(ref.EncodeOrdinary(text)), tok.Count(text), "%s: text %d (%d bytes): %.60q", enc.name, i, len(text), text)
		}
	}
}

// turnSize is the largest turn the API accepts by default
// (api.DefaultMaxTurnBytes); a body of the default api.max_body_bytes
// (8 MiB) holds at most 128 of them.
const turnSize = 64 << 10

// BenchmarkTokenizerWorstCase counts an 8 MiB body — 128 turns of 64 KiB —
// of the inputs that made tiktoken's merge quadratic (one letter repeated,
// one long word) and of others. ns/op is the CPU one body costs the append
// handler, the README's worst case ("go test -run '^$' -bench
// TokenizerWorstCase -benchtime 3x ./retrieval/").
func BenchmarkTokenizerWorstCase(b *testing.B) {
	tok, err := NewTokenizer(TokenizerConfig{})
	require.NoError(b, err)
	for _, in := range []struct{ name, unit string }{
		{"repeated-letter", "a"},
		{"repeated-word", "abcdefghij"},
		{"spaces", " "},
		{"punctuation", "!?"},
		{"digits", "7"},
		{"chinese", "面包店"},
		{"english", "The ferry was late again, so I read half a novel on the pier. "},
	} {
		benchmarkBody(b, tok, in.name, strings.Repeat(in.unit, turnSize/len(in.unit)))
	}
	benchmarkBody(b, tok, "mixed", mixedText(7, turnSize/2))
}

// benchmarkBody counts 8 MiB: 128 times the 64 KiB turn.
func benchmarkBody(b *testing.B, tok *BPETokenizer, name, turn string) {
	b.Run(name, func(b *testing.B) {
		b.SetBytes(128 * int64(len(turn)))
		for b.Loop() {
			for range 128 {
				tok.Count(turn)
			}
		}
	})
}
