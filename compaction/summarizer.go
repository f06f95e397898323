package compaction

import (
	"context"
	"strings"
	"time"
	"unicode"
)

// Tokenizer counts tokens the way the inference backend's model does.
// retrieval.Tokenizer satisfies it; compaction declares only what it uses.
type Tokenizer interface {
	Count(text string) int
}

// Summarizer condenses a chunk of turns (level 0) or of lower-level
// summaries (level ≥ 1). Implementations are safe for concurrent use.
type Summarizer interface {
	// Summarize returns a non-empty summary of in.Items of at most
	// in.TargetTokens tokens. An error means no summary (the worker then
	// falls back to the extractive summarizer).
	Summarize(ctx context.Context, in Input) (Output, error)
}

// Input is one chunk to summarise.
type Input struct {
	// Level of the summary to write: 0 summarises turns, k ≥ 1 summarises
	// level-(k-1) summaries.
	Level int
	// Items in chronological order.
	Items []Item
	// TargetTokens is the most tokens the summary may have (≥ 1). For level
	// 0 it is at most a third of the chunk's tokens.
	TargetTokens int
	// Language hints the conversation's language ("en", "zh", … or ""
	// unknown); the summary is written in it.
	Language string
}

// Item is one turn or one lower-level summary.
type Item struct {
	// Speaker is the turn's author as shown in a transcript (its name, else
	// its role: "user", "assistant"); empty for a summary.
	Speaker string
	// From and To are the item's time range: a turn's created_at (both),
	// or a summary's FromTime and ToTime.
	From, To time.Time
	// FromSeq and ToSeq: a turn's seq (both) or a summary's range.
	FromSeq, ToSeq int64
	Content        string
	// Tokens of Content (counted when 0).
	Tokens int
}

// Output is a summary as written by a Summarizer.
type Output struct {
	Content string
	// Producer names what wrote it: "extractive", "llm:<model>".
	Producer string
	// FallbackReason is set when the summarizer asked for could not and a
	// fallback wrote Content: "error", "malformed", "empty" or "too_long".
	FallbackReason string
}

// speakerOf names a turn's author for transcripts and summaries: its
// name, else its role as written ("user", "assistant"), the way the
// assembler names the speaker of a recalled turn, so a summary and a
// recalled excerpt of the same turn agree.
func speakerOf(name, role string) string {
	if strings.TrimSpace(name) != "" {
		return strings.TrimSpace(name)
	}
	return role
}

// dateOf formats a day the way the assembler's summary headers do.
func dateOf(t time.Time) string { return t.UTC().Format("2 January 2006") }

// rangeOf formats an item's date range: "[8 May 2023]" or
// "[8 May 2023 – 20 May 2023]".
func rangeOf(from, to time.Time) string {
	f, t := dateOf(from), dateOf(to)
	if f == t {
		return "[" + f + "]"
	}
	return "[" + f + " – " + t + "]"
}

// DetectLanguage guesses a text's language: "zh" when Han characters are
// at least a third of its letters, "en" when most letters are Latin, else
// "".
func DetectLanguage(text string) string {
	var han, latin, letters int
	for _, r := range text {
		switch {
		case unicode.Is(unicode.Han, r):
			han++
			letters++
		case unicode.Is(unicode.Latin, r):
			latin++
			letters++
		case unicode.IsLetter(r):
			letters++
		}
	}
	switch {
	case letters == 0:
		return ""
	case han*3 >= letters:
		return "zh"
	case latin*2 > letters:
		return "en"
	}
	return ""
}
