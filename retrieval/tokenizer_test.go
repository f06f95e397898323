package retrieval

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTokenizerBuiltins(t *testing.T) {
	for _, tc := range []struct {
		enc  string
		text string
		want int
	}{
		// Known counts from OpenAI's tiktoken.
		{"cl100k_base", "hello world", 2},
		{"cl100k_base", "", 0},
		{"cl100k_base", "tiktoken is great!", 6},
		{"o200k_base", "hello world", 2},
		{"", "hello world", 2},
	} {
		t.Run(tc.enc+"/"+tc.text, func(t *testing.T) {
			tok, err := NewTokenizer(TokenizerConfig{Encoding: tc.enc})
			require.NoError(t, err)
			require.Equal(t, tc.want, tok.Count(tc.text))
		})
	}
}

func TestTokenizerSpecialTokenTextIsOrdinary(t *testing.T) {
	tok, err := NewTokenizer(TokenizerConfig{})
	require.NoError(t, err)
	// Must not panic, and counts the marker as several ordinary tokens.
	require.Greater(t, tok.Count("<|endoftext|>"), 1)
}

func TestTokenizerChineseCountsMoreThanOnePerSentence(t *testing.T) {
	tok, err := NewTokenizer(TokenizerConfig{Encoding: "o200k_base"})
	require.NoError(t, err)
	n := tok.Count("楼下的面包店每天早上七点开门。")
	require.Greater(t, n, 3)
	require.Less(t, n, 20)
}

func TestTokenizerRanksFile(t *testing.T) {
	// A tiny byte-level vocabulary: every single byte, plus the merge "ab".
	var b strings.Builder
	for i := 0; i < 256; i++ {
		fmt.Fprintf(&b, "%s %d\n", base64.StdEncoding.EncodeToString([]byte{byte(i)}), i)
	}
	fmt.Fprintf(&b, "%s %d\n", base64.StdEncoding.EncodeToString([]byte("ab")), 256)
	path := filepath.Join(t.TempDir(), "tiny.tiktoken")
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o600))

	tok, err := NewTokenizer(TokenizerConfig{RanksFile: path, SpecialTokens: map[string]int{"<|end|>": 300}})
	require.NoError(t, err)
	require.Equal(t, path, tok.Name())
	require.Equal(t, 1, tok.Count("ab"))
	// "abc" → "ab"+"c"; " d" is one piece of two unmerged bytes.
	require.Equal(t, 4, tok.Count("abc d"))
}

func TestTokenizerConfigErrors(t *testing.T) {
	_, err := NewTokenizer(TokenizerConfig{Encoding: "p99k"})
	require.ErrorContains(t, err, "unknown encoding")

	_, err = NewTokenizer(TokenizerConfig{RanksFile: filepath.Join(t.TempDir(), "missing")})
	require.Error(t, err)

	bad := filepath.Join(t.TempDir(), "bad.tiktoken")
	require.NoError(t, os.WriteFile(bad, []byte("!!!notbase64 1\n"), 0o600))
	_, err = NewTokenizer(TokenizerConfig{RanksFile: bad})
	require.ErrorContains(t, err, "bad.tiktoken:1")
}

func BenchmarkTokenizerCount(b *testing.B) {
	tok, err := NewTokenizer(TokenizerConfig{})
	require.NoError(b, err)
	text := "Morning! The ferry was late again, so I read half a novel on the pier and got sunburnt on one arm."
	b.ReportAllocs()
	for b.Loop() {
		tok.Count(text)
	}
}
