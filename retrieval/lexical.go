package retrieval

import (
	"fmt"
	"slices"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/kljensen/snowball/english"
)

// AnalyzerConfig tunes lexical analysis. The zero value is the default:
// English stop words removed, English (Snowball) stemming on, a stem cache
// of 50,000 words.
type AnalyzerConfig struct {
	// KeepStopWords keeps English stop words as terms.
	KeepStopWords bool `yaml:"keep_stop_words" json:"keep_stop_words,omitempty"`
	// NoStemming emits folded words without English stemming.
	NoStemming bool `yaml:"no_stemming" json:"no_stemming,omitempty"`
	// CacheSize caps the number of distinct words whose analysed form is
	// cached (0: 50,000). Memory use is roughly 100 bytes per entry.
	CacheSize int `yaml:"cache_size" json:"cache_size,omitempty"`
}

// Validate reports a configuration that cannot work.
func (c AnalyzerConfig) Validate() error {
	if c.CacheSize < 0 {
		return fmt.Errorf("analyzer: cache_size %d is negative", c.CacheSize)
	}
	return nil
}

const (
	lexDefaultCacheSize = 50000
	// lexMaxCachedWord is the longest folded word (bytes) that is cached;
	// longer ones are analysed on every call so junk cannot flood the cache.
	lexMaxCachedWord = 48
)

// Analyzer turns text into lexical terms for BM25: Unicode word splitting,
// case folding, English stop-word removal and Snowball stemming, numbers
// kept, and CJK runs (Han, Hiragana, Katakana, Hangul) as overlapping
// character bigrams. Terms are deterministic functions of the text and the
// config. An Analyzer is safe for concurrent use; the zero value is ready to
// use with the default config.
type Analyzer struct {
	cfg AnalyzerConfig

	// The word cache maps a folded word to its term ("" = dropped). It has
	// two generations: when cur reaches half the cap it becomes prev and a
	// new cur starts, so at most CacheSize entries are held and recently
	// used words survive a rotation (a hit in prev is copied into cur).
	mu   sync.RWMutex
	cur  map[string]string
	prev map[string]string
}

// NewAnalyzer returns an Analyzer with cfg (an invalid CacheSize falls back
// to the default). It has no side effects.
func NewAnalyzer(cfg AnalyzerConfig) *Analyzer {
	return &Analyzer{cfg: cfg}
}

// TermID is the stable 32-bit id of a term (FNV-1a over its UTF-8 bytes).
// It is the sparse-vector index used by every Index backend; distinct terms
// may collide, which only merges their counts.
func TermID(term string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(term); i++ {
		h ^= uint32(term[i])
		h *= 16777619
	}
	return h
}

// Terms returns the lexical terms of text in text order, with repeats.
// Every term is a non-empty string.
func (a *Analyzer) Terms(text string) []string {
	var out []string
	a.analyze(text, func(t string) { out = append(out, t) })
	return out
}

// TermFreqs returns the unique term ids of text ascending with their counts,
// and length, the number of terms with repeats (BM25's document length).
// It is what Doc.Terms and Doc.Length hold.
func (a *Analyzer) TermFreqs(text string) (terms []TermFreq, length int) {
	var stack [64]uint32
	ids := stack[:0]
	a.analyze(text, func(t string) { ids = append(ids, TermID(t)) })
	if len(ids) == 0 {
		return nil, 0
	}
	slices.Sort(ids)
	n := 1
	for i := 1; i < len(ids); i++ {
		if ids[i] != ids[i-1] {
			n++
		}
	}
	terms = make([]TermFreq, 0, n)
	for i, id := range ids {
		if i > 0 && id == ids[i-1] {
			terms[len(terms)-1].Count++
			continue
		}
		terms = append(terms, TermFreq{ID: id, Count: 1})
	}
	return terms, len(ids)
}

// QueryTerms returns the unique terms of text as a lexical query: weight 1
// each, ascending by ID.
func (a *Analyzer) QueryTerms(text string) []QueryTerm {
	tf, _ := a.TermFreqs(text)
	if len(tf) == 0 {
		return nil
	}
	q := make([]QueryTerm, len(tf))
	for i, t := range tf {
		q[i] = QueryTerm{ID: t.ID, Weight: 1}
	}
	return q
}

// Words returns the words of text split and case-folded as Terms does, but
// with no stop-word removal, no stemming and apostrophes kept ("don't"),
// and with each CJK character as its own word. It is meant for looking
// words up in a word-vector vocabulary.
func (a *Analyzer) Words(text string) []string {
	var out []string
	lexEachWord(text, func(w []byte, cjk string) {
		if cjk != "" {
			out = append(out, foldCJK(cjk))
			return
		}
		out = append(out, string(w))
	})
	return out
}

// analyze calls emit with each term of text in order. The strings passed
// are either substrings of text, cached strings, or fresh allocations; none
// alias a reused buffer.
func (a *Analyzer) analyze(text string, emit func(string)) {
	var sc lexScanner
	sc.init(text)
	var pending []string // analysed words to add to the cache: word, term pairs
	a.mu.RLock()
	cur, prev := a.cur, a.prev
	for sc.next() {
		if sc.cjk != "" {
			lexEmitBigrams(foldCJK(sc.cjk), emit)
			continue
		}
		w := sc.word
		if t, ok := cur[string(w)]; ok { // no allocation for the lookup
			if t != "" {
				emit(t)
			}
			continue
		}
		t, ok := prev[string(w)]
		if !ok {
			t = a.termOf(w, sc.latin, sc.digit, sc.apos)
		}
		if len(w) <= lexMaxCachedWord {
			pending = append(pending, string(w), t)
		}
		if t != "" {
			emit(t)
		}
	}
	a.mu.RUnlock()
	if len(pending) > 0 {
		a.remember(pending)
	}
}

// remember adds word/term pairs to the cache.
func (a *Analyzer) remember(pairs []string) {
	limit := a.cfg.CacheSize
	if limit <= 0 {
		limit = lexDefaultCacheSize
	}
	half := max(limit/2, 1)
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := 0; i+1 < len(pairs); i += 2 {
		if a.cur == nil || len(a.cur) >= half {
			a.prev = a.cur
			a.cur = make(map[string]string, min(half, 1024))
		}
		a.cur[pairs[i]] = pairs[i+1]
	}
}

// termOf analyses one folded word: stop-word check, possessive and
// apostrophe removal, stemming. It returns "" for a dropped word.
func (a *Analyzer) termOf(w []byte, latin, digit, apos bool) string {
	if !a.cfg.KeepStopWords && lexIsStopWord(w) {
		return ""
	}
	s := string(w)
	if apos {
		// Possessive: "caroline's" → "caroline". Other apostrophes are
		// dropped so "o'clock" and "oclock" meet.
		if n := len(s); n > 2 && s[n-2] == '\'' && s[n-1] == 's' {
			s = s[:n-2]
		}
		b := make([]byte, 0, len(s))
		for i := 0; i < len(s); i++ {
			if s[i] != '\'' {
				b = append(b, s[i])
			}
		}
		s = string(b)
		if s == "" {
			return ""
		}
		if !a.cfg.KeepStopWords && lexIsStopWord([]byte(s)) {
			return ""
		}
	}
	if latin && !digit && !a.cfg.NoStemming {
		if st := english.Stem(s, true); st != "" {
			s = st
		}
	}
	return s
}

// lexEmitBigrams emits the overlapping character bigrams of a CJK run (a
// single character emits itself).
func lexEmitBigrams(run string, emit func(string)) {
	_, w0 := utf8.DecodeRuneInString(run)
	if w0 == len(run) {
		emit(run)
		return
	}
	start, mid := 0, w0
	for mid < len(run) {
		_, w := utf8.DecodeRuneInString(run[mid:])
		emit(run[start : mid+w])
		start, mid = mid, mid+w
	}
}

// lexEachWord calls fn for each word of text: a folded word in w (valid
// only during the call) or, for CJK text, one character in cjk.
func lexEachWord(text string, fn func(w []byte, cjk string)) {
	var sc lexScanner
	sc.init(text)
	for sc.next() {
		if sc.cjk == "" {
			fn(sc.word, "")
			continue
		}
		for i, r := range sc.cjk {
			fn(nil, sc.cjk[i:i+utf8.RuneLen(r)])
		}
	}
}

// lexScanner splits text into words and CJK runs without allocating once
// its buffer has grown.
type lexScanner struct {
	text string
	pos  int
	buf  [64]byte

	// After next returns true, either cjk is a run of CJK characters (a
	// substring of text) or word is a case-folded word (apostrophes
	// normalised to U+0027; valid until the next call).
	cjk   string
	word  []byte
	latin bool // every letter of word is Latin script
	digit bool // word has a decimal digit
	apos  bool // word has an apostrophe
}

func (s *lexScanner) init(text string) {
	s.text = text
	s.pos = 0
	s.word = s.buf[:0]
}

// lexIsCJK reports whether r is written without spaces between words and
// so is indexed as bigrams: Han, Hiragana, Katakana, Hangul, plus the
// iteration and prolonged-sound marks used inside Japanese words.
func lexIsCJK(r rune) bool {
	if r < 0x1100 {
		return false
	}
	switch r {
	case 0x3005, 0x3006, 0x303B, 0x30FC, 0xFF70: // 々 〆 〻 ー ｰ
		return true
	}
	return unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul)
}

// lexIsApostrophe reports the characters taken as an apostrophe inside a
// word: ' ’ ʼ.
func lexIsApostrophe(r rune) bool {
	return r == '\'' || r == 0x2019 || r == 0x02BC
}

// lexIsWordStart reports whether r begins a (non-CJK) word.
func lexIsWordStart(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'
	}
	return (unicode.IsLetter(r) || unicode.IsDigit(r)) && !lexIsCJK(r) && !lexIsApostrophe(r)
}

// lexIsWordRune reports whether r continues a (non-CJK) word: letters,
// digits and combining marks.
func lexIsWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'
	}
	return (unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)) && !lexIsCJK(r)
}

// lexFold folds full-width ASCII forms to ASCII and case-folds r (simple folding: lower(upper(r)) maps ς, ſ, the
// Kelvin sign and titlecase digraphs onto the same rune as their plain
// lower-case forms, where ToLower alone does not).
func lexFold(r rune) rune {
	if 0xFF01 <= r && r <= 0xFF5E { // full-width ASCII: Ａ → A, ０ → 0
		r -= 0xFEE0
	}
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}
	return unicode.ToLower(unicode.ToUpper(r))
}

func lexIsASCIIDigit(b byte) bool { return '0' <= b && b <= '9' }

// next advances to the next word or CJK run; false at the end of text.
func (s *lexScanner) next() bool {
	t := s.text
	for s.pos < len(t) {
		r, w := rune(t[s.pos]), 1
		if r >= utf8.RuneSelf {
			r, w = utf8.DecodeRuneInString(t[s.pos:])
		}
		switch {
		case lexIsCJK(r):
			start := s.pos
			s.pos += w
			for s.pos < len(t) {
				r2, w2 := utf8.DecodeRuneInString(t[s.pos:])
				if !lexIsCJK(r2) {
					break
				}
				s.pos += w2
			}
			s.cjk = t[start:s.pos]
			s.word = s.word[:0]
			return true
		case lexIsWordStart(r):
			s.cjk = ""
			if s.scanWord(); len(s.word) > 0 {
				return true
			}
			s.pos += w // not reached; guarantees progress
		default:
			s.pos += w
		}
	}
	return false
}

// scanWord reads the word starting at s.pos.
func (s *lexScanner) scanWord() {
	t := s.text
	s.word = s.word[:0]
	s.latin, s.digit, s.apos = true, false, false
	for s.pos < len(t) {
		c := t[s.pos]
		if c < utf8.RuneSelf {
			switch {
			case 'a' <= c && c <= 'z':
				s.word = append(s.word, c)
			case 'A' <= c && c <= 'Z':
				s.word = append(s.word, c+'a'-'A')
			case lexIsASCIIDigit(c):
				s.digit = true
				s.word = append(s.word, c)
			case c == '.' || c == ',':
				// Inside a number: "3.5" stays whole, "1,000" becomes
				// "1000" (a comma only before exactly three digits).
				if !s.numberSeparator(c) {
					return
				}
				if c == '.' {
					s.word = append(s.word, c)
				}
			case c == '\'':
				if !s.apostropheJoins(1) {
					return
				}
				s.apos = true
				s.word = append(s.word, '\'')
			default:
				return
			}
			s.pos++
			continue
		}
		r, w := utf8.DecodeRuneInString(t[s.pos:])
		switch {
		case lexIsApostrophe(r):
			if !s.apostropheJoins(w) {
				return
			}
			s.apos = true
			s.word = append(s.word, '\'')
		case lexIsWordRune(r):
			if unicode.IsDigit(r) {
				s.digit = true
			} else if s.latin && unicode.IsLetter(r) && !unicode.Is(unicode.Latin, r) {
				s.latin = false
			}
			s.word = utf8.AppendRune(s.word, lexFold(r))
		default:
			return
		}
		s.pos += w
	}
}

// apostropheJoins reports whether the apostrophe of width w at s.pos sits
// between a letter already in the word and a following letter.
func (s *lexScanner) apostropheJoins(w int) bool {
	n := len(s.word)
	if n == 0 || s.word[n-1] == '\'' || lexIsASCIIDigit(s.word[n-1]) {
		return false
	}
	rest := s.text[s.pos+w:]
	if rest == "" {
		return false
	}
	r, _ := utf8.DecodeRuneInString(rest)
	return unicode.IsLetter(r) && !lexIsCJK(r)
}

// numberSeparator reports whether the '.' or ',' at s.pos joins two parts
// of a number.
func (s *lexScanner) numberSeparator(c byte) bool {
	n := len(s.word)
	if n == 0 || !lexIsASCIIDigit(s.word[n-1]) {
		return false
	}
	rest := s.text[s.pos+1:]
	if c == '.' {
		return rest != "" && lexIsASCIIDigit(rest[0])
	}
	if len(rest) < 3 || !lexIsASCIIDigit(rest[0]) || !lexIsASCIIDigit(rest[1]) || !lexIsASCIIDigit(rest[2]) {
		return false
	}
	return len(rest) == 3 || !lexIsASCIIDigit(rest[3])
}

// lexIsStopWord reports whether the folded word is an English stop word.
func lexIsStopWord(w []byte) bool {
	_, ok := lexStopWords[string(w)]
	return ok
}

// lexStopWords is the Snowball English stop-word list (the ~170 words of
// snowball's english/stop.txt, contractions included), plus the same
// contractions typed without an apostrophe, as is common in chat.
var lexStopWords = func() map[string]struct{} {
	words := []string{
		// Snowball English list.
		"i", "me", "my", "myself", "we", "our", "ours", "ourselves", "you", "your",
		"yours", "yourself", "yourselves", "he", "him", "his", "himself", "she", "her",
		"hers", "herself", "it", "its", "itself", "they", "them", "their", "theirs",
		"themselves", "what", "which", "who", "whom", "this", "that", "these", "those",
		"am", "is", "are", "was", "were", "be", "been", "being", "have", "has", "had",
		"having", "do", "does", "did", "doing", "would", "should", "could", "ought",
		"i'm", "you're", "he's", "she's", "it's", "we're", "they're", "i've", "you've",
		"we've", "they've", "i'd", "you'd", "he'd", "she'd", "we'd", "they'd", "i'll",
		"you'll", "he'll", "she'll", "we'll", "they'll", "isn't", "aren't", "wasn't",
		"weren't", "hasn't", "haven't", "hadn't", "doesn't", "don't", "didn't", "won't",
		"wouldn't", "shan't", "shouldn't", "can't", "cannot", "couldn't", "mustn't",
		"let's", "that's", "who's", "what's", "here's", "there's", "when's", "where's",
		"why's", "how's", "a", "an", "the", "and", "but", "if", "or", "because", "as",
		"until", "while", "of", "at", "by", "for", "with", "about", "against", "between",
		"into", "through", "during", "before", "after", "above", "below", "to", "from",
		"up", "down", "in", "out", "on", "off", "over", "under", "again", "further",
		"then", "once", "here", "there", "when", "where", "why", "how", "all", "any",
		"both", "each", "few", "more", "most", "other", "some", "such", "no", "nor",
		"not", "only", "own", "same", "so", "than", "too", "very",
		// Contractions without the apostrophe (none is a common word).
		"im", "ive", "youre", "youve", "theyre", "theyve", "isnt", "arent", "wasnt",
		"werent", "hasnt", "havent", "hadnt", "doesnt", "dont", "didnt", "wouldnt",
		"shouldnt", "cant", "couldnt", "mustnt", "thats", "whats",
	}
	m := make(map[string]struct{}, len(words))
	for _, w := range words {
		m[w] = struct{}{}
	}
	return m
}()
