package retrieval

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// The question inside a message. Users ramble: small talk first, the thing
// asked last ("…the weather is awful today. Anyway: what was the name of
// my cousin's dog?"). A message is split into sentences; the sentences that
// ask — ending with a question mark, or holding a question word — keep
// their terms at full weight, the others weigh less, so the chatter around
// a question does not recall turns about the chatter.

// Sentence is one sentence of a message and whether it asks something.
type Sentence struct {
	Text string
	Asks bool
}

// Sentences splits text at sentence ends (. ! ? and their full-width forms,
// ；, …, line breaks) and marks the ones that ask. A '.' between digits or
// after a single letter ("3.5", "e.g.") does not end a sentence. Pure.
func Sentences(text string) []Sentence {
	var out []Sentence
	start := 0
	flush := func(end int) {
		s := strings.TrimSpace(text[start:end])
		start = end
		if s == "" {
			return
		}
		out = append(out, Sentence{Text: s, Asks: asks(s)})
	}
	for i := 0; i < len(text); {
		r, w := utf8.DecodeRuneInString(text[i:])
		switch r {
		case '?', '!', '？', '！', '。', '；', ';', '…', '\n':
			flush(i + w)
		case '.':
			if !abbreviationDot(text, i) {
				flush(i + w)
			}
		}
		i += w
	}
	flush(len(text))
	return out
}

// abbreviationDot reports whether the '.' at i sits inside a number or
// after a single letter.
func abbreviationDot(text string, i int) bool {
	if i+1 < len(text) && i > 0 && isDigit(text[i-1]) && isDigit(text[i+1]) {
		return true
	}
	if i >= 1 {
		r, _ := utf8.DecodeLastRuneInString(text[:i])
		if unicode.IsLetter(r) && r < utf8.RuneSelf {
			before := text[:i-1]
			if before == "" || before[len(before)-1] == ' ' || before[len(before)-1] == '.' {
				return true
			}
		}
	}
	return false
}

func isDigit(b byte) bool { return '0' <= b && b <= '9' }

// asks reports whether a sentence is a question: it ends with a question
// mark or holds a question word (English interrogatives at the start of a
// clause; Chinese interrogative words and sentence-final particles).
func asks(s string) bool {
	if strings.HasSuffix(s, "?") || strings.HasSuffix(s, "？") {
		return true
	}
	for _, w := range zhQuestionWords {
		if strings.Contains(s, w) {
			return true
		}
	}
	f := strings.Fields(strings.ToLower(s))
	if len(f) > 0 {
		if _, ok := enQuestionWords[strings.Trim(f[0], ",;:\"'")]; ok {
			return true
		}
	}
	return false
}

// zhQuestionWords are Chinese interrogatives (general grammar words).
var zhQuestionWords = []string{"什么", "哪", "谁", "几", "多少", "怎么", "怎样", "如何", "为什么", "为何", "是否", "吗", "么？", "呢？"}

// enQuestionWords open an English question.
var enQuestionWords = map[string]struct{}{
	"what": {}, "who": {}, "whom": {}, "whose": {}, "which": {}, "when": {}, "where": {}, "why": {}, "how": {},
	"did": {}, "does": {}, "do": {}, "is": {}, "are": {}, "was": {}, "were": {}, "has": {}, "have": {}, "had": {},
	"can": {}, "could": {}, "would": {}, "will": {}, "should": {},
}

// askingText is the part of text that asks: its asking sentences joined,
// or the whole text when no sentence asks.
func askingText(text string) string {
	var parts []string
	for _, s := range Sentences(text) {
		if s.Asks {
			parts = append(parts, s.Text)
		}
	}
	if len(parts) == 0 {
		return text
	}
	return strings.Join(parts, " ")
}
