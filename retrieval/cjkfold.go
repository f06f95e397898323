package retrieval

import (
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/longbridgeapp/opencc"
)

// Chinese folding. The same word written in traditional and in simplified
// characters (郵箱 / 邮箱) must meet in the index, as upper and lower case do
// in English. Each traditional character is folded to its simplified form,
// character by character (what search engines do; phrase-level conversion
// is for display, not matching), with OpenCC's traditional-to-simplified
// character table as the resource.

// t2sTable maps a traditional character to its simplified form, for every
// CJK Unified Ideograph (basic block and extension A) whose OpenCC t2s
// conversion is another single character. Built once, on first use (about
// 30 ms), immutable afterwards.
var t2sTable = sync.OnceValue(func() map[rune]rune {
	cc, err := opencc.New("t2s")
	if err != nil {
		return map[rune]rune{} // the table is embedded in the module: not reached
	}
	m := make(map[rune]rune, 4096)
	for _, block := range [][2]rune{{0x3400, 0x4DBF}, {0x4E00, 0x9FFF}} {
		for r := block[0]; r <= block[1]; r++ {
			out, err := cc.Convert(string(r))
			if err != nil {
				continue
			}
			if s, n := utf8.DecodeRuneInString(out); n == len(out) && s != r && s != utf8.RuneError {
				m[r] = s
			}
		}
	}
	return m
})

// foldCJK returns run with traditional characters folded to simplified
// ones; run itself (no allocation) when it has none, or when it holds kana
// or Hangul (Japanese or Korean: their Han characters are left as written).
func foldCJK(run string) string {
	table := t2sTable()
	i := strings.IndexFunc(run, func(r rune) bool { _, ok := table[r]; return ok })
	if i < 0 || strings.IndexFunc(run, func(r rune) bool { return unicode.In(r, unicode.Hiragana, unicode.Katakana, unicode.Hangul) }) >= 0 {
		return run
	}
	var b strings.Builder
	b.Grow(len(run))
	b.WriteString(run[:i])
	for _, r := range run[i:] {
		if s, ok := table[r]; ok {
			r = s
		}
		b.WriteRune(r)
	}
	return b.String()
}

// zhFunctionChars are Chinese function characters: particles, pronouns,
// the copula, measure words and conjunctions that carry grammar rather
// than subject matter (general grammar, as in any Chinese stop list).
// Character bigrams spanning one ("的规", "是什") match by accident.
const zhFunctionChars = "的了着过是在有和与及或也都就还又很吗呢吧啊呀哦嘛我你他她它们这那个么之其把被给让从对于为以而且但所"

// zhFunctionWeight scales a query's CJK terms that hold a function
// character. Chosen on three MemDaily dev files (0.1 and 0.2 within one
// question of each other; 0.5 and 1 worse) and confirmed on the other four.
const zhFunctionWeight = 0.2

// zhFunctionScale is zhFunctionWeight for a CJK term holding a function
// character, else 1.
func zhFunctionScale(term string) float32 {
	r, _ := utf8.DecodeRuneInString(term)
	if !lexIsCJK(r) || !strings.ContainsAny(term, zhFunctionChars) {
		return 1
	}
	return zhFunctionWeight
}
