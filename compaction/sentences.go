package compaction

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// abbreviations end with a period that does not end a sentence (lowercase,
// without the final period).
var abbreviations = map[string]bool{
	"mr": true, "mrs": true, "ms": true, "dr": true, "prof": true, "st": true, "jr": true, "sr": true,
	"vs": true, "etc": true, "e.g": true, "i.e": true, "a.m": true, "p.m": true, "u.s": true,
	"mt": true, "ft": true, "approx": true, "dept": true, "inc": true, "ltd": true, "co": true,
	"ave": true, "rd": true, "lt": true, "sgt": true, "capt": true, "gen": true, "rev": true, "hon": true,
	"jan": true, "feb": true, "apr": true, "aug": true, "sept": true, "oct": true, "nov": true, "dec": true,
	"min": true, "hr": true, "hrs": true, "mins": true, "ca": true, "cf": true, "al": true,
}

// numberings are abbreviations only before a number ("Op. 9 No. 2",
// "vol. 3", "p. 12"); elsewhere ("I said no.") their period ends the
// sentence.
var numberings = map[string]bool{
	"no": true, "nos": true, "op": true, "vol": true, "vols": true, "ch": true, "chap": true, "p": true, "pp": true,
	"fig": true, "figs": true, "art": true, "sec": true, "ex": true, "nr": true, "bd": true, "track": true,
}

// splitSentences cuts text into sentences: after . ! ? … (followed by a
// space or the end, and for '.' not after a known abbreviation or a single
// initial), after the CJK terminators 。！？ wherever they stand, and at line
// breaks. Closing quotes and brackets stay with their sentence. Sentences
// are trimmed; empty ones are dropped.
func splitSentences(text string) []string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		out = appendSentences(out, line)
	}
	return out
}

func appendSentences(out []string, line string) []string {
	start := 0
	emit := func(end int) {
		if s := strings.TrimSpace(line[start:end]); s != "" {
			out = append(out, s)
		}
		start = end
	}
	for i := 0; i < len(line); {
		r, size := utf8.DecodeRuneInString(line[i:])
		j := i + size
		switch r {
		case '。', '！', '？', '!', '?', '…', '.':
			// Take the whole run of terminators and closing marks.
			for j < len(line) {
				r2, s2 := utf8.DecodeRuneInString(line[j:])
				if !isTerminator(r2) && !isCloser(r2) {
					break
				}
				j += s2
			}
			cjk := r == '。' || r == '！' || r == '？'
			next, _ := utf8.DecodeRuneInString(line[j:])
			atEnd := j >= len(line) || unicode.IsSpace(next)
			if !cjk && !atEnd {
				// "3.5", "e.g.x", "Hi!How": only a CJK letter may follow
				// directly (Chinese text has no spaces).
				if !unicode.Is(unicode.Han, next) {
					i = j
					continue
				}
			}
			if r == '.' && j == i+size && (endsWithAbbreviation(line[start:i]) || numbering(line[start:i], line[j:])) {
				i = j
				continue
			}
			emit(j)
			i = j
		default:
			i = j
		}
	}
	emit(len(line))
	return out
}

func isTerminator(r rune) bool {
	switch r {
	case '。', '！', '？', '!', '?', '…', '.':
		return true
	}
	return false
}

func isCloser(r rune) bool {
	switch r {
	case '"', '\'', ')', ']', '」', '』', '”', '’', '）', '》':
		return true
	}
	return false
}

// endsWithAbbreviation reports whether s ends with a word that a period
// does not end a sentence after: a known abbreviation or a single capital
// initial ("J. R. R. Tolkien").
func endsWithAbbreviation(s string) bool {
	k := strings.LastIndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || r == '(' || r == '"' })
	w := s[k+1:]
	if w == "" {
		return false
	}
	if utf8.RuneCountInString(w) == 1 {
		r, _ := utf8.DecodeRuneInString(w)
		return unicode.IsUpper(r)
	}
	return abbreviations[strings.ToLower(w)]
}

// numbering reports whether s ends with a numbering abbreviation ("Op",
// "No", "vol") and after (the text after its period) goes on with a
// number.
func numbering(s, after string) bool {
	k := strings.LastIndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || r == '(' || r == '"' || r == ',' })
	if !numberings[strings.ToLower(s[k+1:])] {
		return false
	}
	after = strings.TrimLeft(after, " \t")
	r, _ := utf8.DecodeRuneInString(after)
	return unicode.IsDigit(r)
}

// wordsOf splits s into words of letters, digits, apostrophes and inner
// hyphens, in order (Han characters are left out; see hanCount).
func wordsOf(s string) []string {
	var out []string
	start := -1
	for i, r := range s {
		inWord := (unicode.IsLetter(r) && !unicode.Is(unicode.Han, r)) || unicode.IsDigit(r) ||
			(start >= 0 && (r == '\'' || r == '’' || r == '-' || r == ':' || r == '.'))
		if inWord && start < 0 {
			start = i
		}
		if !inWord && start >= 0 {
			out = append(out, trimWord(s[start:i]))
			start = -1
		}
	}
	if start >= 0 {
		out = append(out, trimWord(s[start:]))
	}
	return out
}

// trimWord drops trailing joiners ("end." → "end", "ok-" → "ok").
func trimWord(w string) string {
	return strings.TrimRight(w, "'’-:.")
}

func hanCount(s string) int {
	n := 0
	for _, r := range s {
		if unicode.Is(unicode.Han, r) {
			n++
		}
	}
	return n
}
