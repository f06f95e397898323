package retrieval

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func TestAnalyzerTerms(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []string
	}{
		{"empty", "", nil},
		{"only punctuation", " ... !? -- ", nil},
		{"only stop words", "I am not here, and you are", nil},
		{"english stemming", "She was running to the stations", []string{"run", "station"}},
		{"case folding", "HELLO Hello hello", []string{"hello", "hello", "hello"}},
		{"possessive equals plain word", "Ines's", []string{"ine"}},
		{"possessive with curly apostrophe", "Ines\u2019s dog", []string{"ine", "dog"}},
		{"contraction is a stop word", "don't DON\u2019T dont", nil},
		{"trailing apostrophe", "James' car", []string{"jame", "car"}},
		{"inner apostrophes dropped", "o'clock rock'n'roll", []string{"oclock", "rocknrol"}},
		{"hyphenated word gives both parts", "dog-friendly", []string{"dog", "friend"}},
		{"numbers kept", "I ran 5 km in 2023", []string{"ran", "5", "km", "2023"}},
		{"decimal and thousands", "3.5 miles, 1,000 steps, 1,2,3", []string{"3.5", "mile", "1000", "step", "1", "2", "3"}},
		{"words with digits not stemmed", "3rd mp3s v1.2.3", []string{"3rd", "mp3s", "v1.2.3"}},
		{"dates split", "2023-05-01 10:30", []string{"2023", "05", "01", "10", "30"}},
		{"sentence end dot", "I like cats.", []string{"like", "cat"}},
		{"emoji ignored", "Hello 👋🎉 world!!", []string{"hello", "world"}},
		{"diacritics kept", "café naïve", []string{"café", "naïv"}},
		{"greek final sigma folds", "ΣΊΣΥΦΟΣ σίσυφος", []string{"σίσυφοσ", "σίσυφοσ"}},
		{"kelvin sign folds", "\u212Aelvin", []string{"kelvin"}},
		{"cyrillic not stemmed", "Собаки бегают", []string{"собаки", "бегают"}},
		{"chinese bigrams", "我喜欢猫", []string{"我喜", "喜欢", "欢猫"}},
		{"single han char", "猫", []string{"猫"}},
		{"chinese punctuation splits runs", "猫，狗。", []string{"猫", "狗"}},
		{"mixed chinese english digits", "我在Google工作了3年", []string{"我在", "googl", "工作", "作了", "3", "年"}},
		{"japanese kana and kanji", "東京タワーに行った", []string{"東京", "京タ", "タワ", "ワー", "ーに", "に行", "行っ", "った"}},
		{"korean", "안녕하세요 세계", []string{"안녕", "녕하", "하세", "세요", "세계"}},
		{"invalid utf8", "\xff\xfeabc\xc3", []string{"abc"}},
	}
	a := NewAnalyzer(AnalyzerConfig{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, a.Terms(tt.text))
			// Same answer from the cache.
			require.Equal(t, tt.want, a.Terms(tt.text))
		})
	}
}

func TestAnalyzerPossessiveMatchesName(t *testing.T) {
	a := NewAnalyzer(AnalyzerConfig{})
	require.Equal(t, a.Terms("Ines"), a.Terms("Ines's"))
	require.Equal(t, a.QueryTerms("ines"), a.QueryTerms("INES’S"))
}

func TestAnalyzerConfig(t *testing.T) {
	text := "The dogs were running"
	require.Equal(t, []string{"the", "dog", "were", "run"}, NewAnalyzer(AnalyzerConfig{KeepStopWords: true}).Terms(text))
	require.Equal(t, []string{"dogs", "running"}, NewAnalyzer(AnalyzerConfig{NoStemming: true}).Terms(text))
	var zero Analyzer
	require.Equal(t, []string{"dog", "run"}, zero.Terms(text))

	require.NoError(t, AnalyzerConfig{}.Validate())
	require.Error(t, AnalyzerConfig{CacheSize: -1}.Validate())
}

func TestAnalyzerWords(t *testing.T) {
	a := NewAnalyzer(AnalyzerConfig{})
	require.Equal(t,
		[]string{"ines's", "dog", "ran", "to", "the", "dog", "friendly", "café", "don't", "3.5", "km"},
		a.Words("Ines's dog ran to the dog-friendly Café, don’t 3.5 km!"))
	require.Equal(t, []string{"我", "在", "google", "工", "作", "了", "3", "年"}, a.Words("我在Google工作了3年"))
	require.Nil(t, a.Words(""))
}

func TestTermID(t *testing.T) {
	// FNV-1a 32 reference values.
	require.Equal(t, uint32(0x811c9dc5), TermID(""))
	require.Equal(t, uint32(0xe40c292c), TermID("a"))
	require.Equal(t, uint32(0xbf9cf968), TermID("foobar"))
	require.NotEqual(t, TermID("cat"), TermID("dog"))
}

func TestAnalyzerTermFreqs(t *testing.T) {
	a := NewAnalyzer(AnalyzerConfig{})
	terms, n := a.TermFreqs("Cats chase cats; the cat sleeps. 猫猫猫")
	// cat ×3, chase, sleep, 猫猫 ×2
	require.Equal(t, 7, n)
	want := map[uint32]uint32{TermID("cat"): 3, TermID("chase"): 1, TermID("sleep"): 1, TermID("猫猫"): 2}
	got := map[uint32]uint32{}
	for _, tf := range terms {
		got[tf.ID] = tf.Count
	}
	require.Equal(t, want, got)
	require.True(t, slices.IsSortedFunc(terms, func(x, y TermFreq) int { return cmp.Compare(x.ID, y.ID) }))
	for i := 1; i < len(terms); i++ {
		require.Less(t, terms[i-1].ID, terms[i].ID, "ids unique and ascending")
	}

	terms, n = a.TermFreqs("the and of")
	require.Nil(t, terms)
	require.Zero(t, n)
}

func TestAnalyzerQueryTerms(t *testing.T) {
	a := NewAnalyzer(AnalyzerConfig{})
	q := a.QueryTerms("Where did Ines go hiking? hiking with Ines")
	require.Len(t, q, 3) // ine, go, hike
	ids := []uint32{TermID("ine"), TermID("go"), TermID("hike")}
	slices.Sort(ids)
	for i, qt := range q {
		require.Equal(t, ids[i], qt.ID)
		require.Equal(t, float32(1), qt.Weight)
	}
	require.Equal(t, q, a.QueryTerms("Where did Ines go hiking? hiking with Ines"))
	require.Nil(t, a.QueryTerms("   "))
}

func TestAnalyzerCacheBounded(t *testing.T) {
	a := NewAnalyzer(AnalyzerConfig{CacheSize: 10})
	for i := range 100 {
		a.Terms(fmt.Sprintf("word%c walking", 'a'+rune(i%26)))
	}
	a.mu.RLock()
	n := len(a.cur) + len(a.prev)
	a.mu.RUnlock()
	require.LessOrEqual(t, n, 10)
	// Results do not depend on what is cached.
	require.Equal(t, []string{"walk"}, a.Terms("walking"))
}

func TestAnalyzerConcurrent(t *testing.T) {
	a := NewAnalyzer(AnalyzerConfig{CacheSize: 64})
	texts := []string{
		"Ines went hiking in the mountains last summer",
		"我在Google工作了3年",
		"Tomas painted a sunrise over the lake",
	}
	want := make([][]string, len(texts))
	for i, s := range texts {
		want[i] = NewAnalyzer(AnalyzerConfig{}).Terms(s)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				k := (g + i) % len(texts)
				if got := a.Terms(texts[k]); !slices.Equal(got, want[k]) {
					t.Errorf("Terms(%q) = %q, want %q", texts[k], got, want[k])
					return
				}
				a.Terms(fmt.Sprintf("filler%d", i))
			}
		})
	}
	wg.Wait()
}

func FuzzTerms(f *testing.F) {
	for _, s := range []string{"", "Ines's dog-friendly café", "我在Google工作了3年", "1,000.5", "\xff'a'", "a'", "'s", "ǅ", "ʼq ʼ"} {
		f.Add(s)
	}
	a := NewAnalyzer(AnalyzerConfig{CacheSize: 100})
	f.Fuzz(func(t *testing.T, s string) {
		terms := a.Terms(s)
		for _, term := range terms {
			if term == "" {
				t.Fatalf("empty term from %q", s)
			}
			if utf8.ValidString(s) && !utf8.ValidString(term) {
				t.Fatalf("invalid term %q from valid %q", term, s)
			}
		}
		tf, n := a.TermFreqs(s)
		if n != len(terms) {
			t.Fatalf("length %d, want %d", n, len(terms))
		}
		for i := 1; i < len(tf); i++ {
			if tf[i-1].ID >= tf[i].ID {
				t.Fatalf("ids not ascending: %v", tf)
			}
		}
		for _, w := range a.Words(s) {
			if w == "" {
				t.Fatalf("empty word from %q", s)
			}
		}
	})
}

const lexBenchTurn = "Hey Ines! I finally went to that dog-friendly choir you told me about last week, " +
	"and honestly it was amazing. The people there were so kind, we talked for hours about our journeys."

func BenchmarkTermFreqs(b *testing.B) {
	a := NewAnalyzer(AnalyzerConfig{})
	if n := len(strings.Fields(lexBenchTurn)); n < 30 {
		b.Fatalf("bench text has %d words", n)
	}
	b.ReportAllocs()
	for b.Loop() {
		a.TermFreqs(lexBenchTurn)
	}
}

func BenchmarkTermFreqsParallel(b *testing.B) {
	a := NewAnalyzer(AnalyzerConfig{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			a.TermFreqs(lexBenchTurn)
		}
	})
}

func BenchmarkTermFreqsChinese(b *testing.B) {
	a := NewAnalyzer(AnalyzerConfig{})
	text := "我上周终于去了你说的那个支持小组，真的很棒。那里的人都很友善，我们聊了好几个小时。"
	b.ReportAllocs()
	for b.Loop() {
		a.TermFreqs(text)
	}
}

func TestAnalyzerFoldsChineseScriptsAndWidth(t *testing.T) {
	a := NewAnalyzer(AnalyzerConfig{})
	require.Equal(t, a.Terms("我的郵箱地址"), a.Terms("我的邮箱地址"), "traditional and simplified meet")
	require.Equal(t, a.Terms("臺灣的頭髮"), a.Terms("台湾的头发"))
	require.Equal(t, a.Terms("Room 42"), a.Terms("Ｒｏｏｍ ４２"), "full-width letters and digits meet ASCII")
	require.Equal(t, []string{"邮", "箱"}, a.Words("郵箱"), "word-vector lookups see simplified characters")
	require.Equal(t, "没有繁体字", foldCJK("没有繁体字"))
}
