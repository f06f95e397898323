package compaction

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Message is one chat message sent to a Completer, in the OpenAI chat
// vocabulary (Role "system", "user" or "assistant").
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Completer is the one ability of a chat-completion client the LLM
// summarizer needs; the bots package's OpenAI-compatible client satisfies
// it. A client that can should ask the backend for JSON output.
type Completer interface {
	// Complete returns the assistant's reply to messages.
	Complete(ctx context.Context, messages []Message) (string, error)
}

// LLM summarises with a chat model. The prompt asks for a summary that
// keeps names, absolute dates (relative ones resolved against each turn's
// date, which the prompt shows), facts about the user, commitments and
// feelings, in the conversation's language, within the token target,
// answered as JSON {"summary": "…"}. When the model fails, answers
// something that is not such JSON, or overshoots the target, the fallback
// writes the summary and Output.FallbackReason says why. Safe for
// concurrent use when the Completer is.
type LLM struct {
	c        Completer
	producer string
	tok      Tokenizer
	fallback Summarizer
}

var _ Summarizer = (*LLM)(nil)

// NewLLM returns an LLM summarizer. model names it in Producer
// ("llm:<model>"); tok counts the reply; fallback (nil: NewExtractive(tok))
// writes the summary when the model cannot.
func NewLLM(c Completer, model string, tok Tokenizer, fallback Summarizer) *LLM {
	if fallback == nil {
		fallback = NewExtractive(tok)
	}
	producer := "llm"
	if model != "" {
		producer += ":" + model
	}
	return &LLM{c: c, producer: producer, tok: tok, fallback: fallback}
}

// Fallback reasons of Output.FallbackReason.
const (
	ReasonError     = "error"
	ReasonMalformed = "malformed"
	ReasonEmpty     = "empty"
	ReasonTooLong   = "too_long"
)

// Summarize implements Summarizer.
func (l *LLM) Summarize(ctx context.Context, in Input) (Output, error) {
	reply, err := l.c.Complete(ctx, Prompt(in))
	if err != nil {
		if ctx.Err() != nil {
			return Output{}, ctx.Err()
		}
		return l.fall(ctx, in, ReasonError)
	}
	summary, err := ParseSummary(reply)
	switch {
	case errors.Is(err, errEmptySummary):
		return l.fall(ctx, in, ReasonEmpty)
	case err != nil:
		return l.fall(ctx, in, ReasonMalformed)
	case l.tok.Count(summary) > in.TargetTokens:
		return l.fall(ctx, in, ReasonTooLong)
	}
	return Output{Content: summary, Producer: l.producer}, nil
}

func (l *LLM) fall(ctx context.Context, in Input, reason string) (Output, error) {
	out, err := l.fallback.Summarize(ctx, in)
	if err != nil {
		return Output{}, fmt.Errorf("compaction: llm summary failed (%s) and so did the fallback: %w", reason, err)
	}
	out.FallbackReason = reason
	return out, nil
}

// languageName spells a language hint out for the prompt.
func languageName(hint string) string {
	switch strings.ToLower(hint) {
	case "":
		return "the language the conversation is written in"
	case "en":
		return "English"
	case "zh", "zh-cn", "zh-hans":
		return "Chinese (Simplified)"
	case "zh-tw", "zh-hant":
		return "Chinese (Traditional)"
	}
	return "the language with code " + hint
}

// Prompt builds the messages asking a chat model for the summary of in.
// Turns are shown with their date and time, summaries with their date
// range, so the model can resolve relative dates.
func Prompt(in Input) []Message {
	var sys strings.Builder
	what := "a part of a conversation between a user and a persona chat bot"
	if in.Level > 0 {
		what = "consecutive summaries of earlier parts of a conversation between a user and a persona chat bot"
	}
	fmt.Fprintf(&sys, "You write the long-term memory of a chat bot. You are given %s. ", what)
	sys.WriteString("Write one summary of it that the bot can rely on later. Keep:\n")
	sys.WriteString("- names of people, pets, places and things;\n")
	sys.WriteString("- dates as absolute dates: resolve \"yesterday\", \"last week\", \"next Friday\" and the like against the date of the message that says it (write \"7 May 2023\", never \"yesterday\");\n")
	sys.WriteString("- facts about the user and the other speakers (who they are, what they have, do and like);\n")
	sys.WriteString("- commitments, plans and promises, and who made them;\n")
	sys.WriteString("- feelings that matter.\n")
	sys.WriteString("Leave out greetings, thanks and small talk. Do not invent anything. ")
	fmt.Fprintf(&sys, "Write in %s. ", languageName(in.Language))
	fmt.Fprintf(&sys, "The summary must be at most %d tokens (about %d English words). ", in.TargetTokens, max(1, in.TargetTokens*3/4))
	sys.WriteString(`Answer with JSON only, exactly of the form {"summary": "..."}.`)

	var user strings.Builder
	for _, it := range in.Items {
		if in.Level == 0 {
			fmt.Fprintf(&user, "[%s, %s] %s: %s\n", dateOf(it.From), it.From.UTC().Format("15:04"), it.Speaker, it.Content)
		} else {
			fmt.Fprintf(&user, "%s\n%s\n\n", rangeOf(it.From, it.To), it.Content)
		}
	}
	return []Message{{Role: "system", Content: sys.String()}, {Role: "user", Content: strings.TrimSpace(user.String())}}
}

var (
	errEmptySummary = errors.New("compaction: empty summary")
	thinkBlock      = regexp.MustCompile(`(?s)<think>.*?</think>`)
)

// ParseSummary extracts the summary from a model's reply: a JSON object
// {"summary": "..."}, possibly inside a code fence, after a reasoning
// block (<think>…</think>) or among prose. It fails when no such object
// with a non-empty string is found.
func ParseSummary(reply string) (string, error) {
	s := thinkBlock.ReplaceAllString(reply, "")
	for i := strings.IndexByte(s, '{'); i >= 0; {
		var v struct {
			Summary *string `json:"summary"`
		}
		dec := json.NewDecoder(strings.NewReader(s[i:]))
		if err := dec.Decode(&v); err == nil && v.Summary != nil {
			if strings.TrimSpace(*v.Summary) == "" {
				return "", errEmptySummary
			}
			return strings.TrimSpace(*v.Summary), nil
		}
		next := strings.IndexByte(s[i+1:], '{')
		if next < 0 {
			break
		}
		i += 1 + next
	}
	return "", errors.New("compaction: no {\"summary\": ...} object in the reply")
}
