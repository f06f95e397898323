package compaction

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// cannedCompleter answers every call with reply (or err) and records the
// messages it was sent. The LLM cannot run on this machine.
type cannedCompleter struct {
	reply string
	err   error

	mu   sync.Mutex
	sent [][]Message
}

func (c *cannedCompleter) Complete(ctx context.Context, messages []Message) (string, error) {
	c.mu.Lock()
	c.sent = append(c.sent, messages)
	c.mu.Unlock()
	return c.reply, c.err
}

func TestParseSummary(t *testing.T) {
	tests := []struct {
		name, reply, want string
		err               bool
	}{
		{name: "plain", reply: `{"summary": "Priya joined a choir on 7 May 2023."}`, want: "Priya joined a choir on 7 May 2023."},
		{name: "code fence", reply: "```json\n{\"summary\": \"A fact.\"}\n```", want: "A fact."},
		{name: "prose around", reply: "Sure! Here it is:\n{\"summary\": \"A fact.\"}\nHope it helps.", want: "A fact."},
		{name: "reasoning first", reply: "<think>the user wants {json}</think>\n{\"summary\": \"A fact.\"}", want: "A fact."},
		{name: "braces inside", reply: `{"summary": "She wrote {hi} on a card."}`, want: "She wrote {hi} on a card."},
		{name: "another object first", reply: `{"note": 1} then {"summary": "A fact."}`, want: "A fact."},
		{name: "chinese", reply: `{"summary": "小红下周（2023年5月16日那周）去北京。"}`, want: "小红下周（2023年5月16日那周）去北京。"},
		{name: "no json", reply: "Priya joined a choir.", err: true},
		{name: "truncated json", reply: `{"summary": "Priya went to`, err: true},
		{name: "wrong key", reply: `{"text": "A fact."}`, err: true},
		{name: "wrong type", reply: `{"summary": ["A fact."]}`, err: true},
		{name: "empty", reply: `{"summary": "  "}`, err: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseSummary(tc.reply)
			if tc.err {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestPromptShowsDatesLanguageAndTarget(t *testing.T) {
	msgs := Prompt(Input{Level: 0, Items: chunk[:3], TargetTokens: 120, Language: "zh"})
	require.Len(t, msgs, 2)
	require.Equal(t, "system", msgs[0].Role)
	require.Contains(t, msgs[0].Content, "at most 120 tokens")
	require.Contains(t, msgs[0].Content, "Chinese")
	require.Contains(t, msgs[0].Content, `{"summary": "..."}`)
	require.Contains(t, msgs[0].Content, "yesterday")
	require.Equal(t, "user", msgs[1].Role)
	require.Contains(t, msgs[1].Content, "[8 May 2023, 13:56] Priya: I joined a community choir at the library last Tuesday")

	up := Prompt(Input{Level: 1, Items: []Item{{From: chunk[0].From, To: chunk[0].To, Content: "[8 May 2023] Priya: A fact."}}, TargetTokens: 50})
	require.Contains(t, up[0].Content, "summaries")
	require.Contains(t, up[1].Content, "[8 May 2023]\n[8 May 2023] Priya: A fact.")
}

func TestLLMSummarizer(t *testing.T) {
	tok := testTokenizer()
	in := Input{Level: 0, Items: chunk, TargetTokens: 100, Language: "en"}
	tests := []struct {
		name      string
		c         *cannedCompleter
		producer  string
		reason    string
		wantExact string
	}{
		{name: "good answer", c: &cannedCompleter{reply: "```json\n{\"summary\": \"Priya joined a community choir on 7 May 2023.\"}\n```"},
			producer: "llm:qwen3-30b-a3b", wantExact: "Priya joined a community choir on 7 May 2023."},
		{name: "malformed JSON falls back", c: &cannedCompleter{reply: `{"summary": "Priya went`}, producer: ProducerExtractive, reason: ReasonMalformed},
		{name: "prose falls back", c: &cannedCompleter{reply: "Here is a summary: Priya went to a group."}, producer: ProducerExtractive, reason: ReasonMalformed},
		{name: "empty falls back", c: &cannedCompleter{reply: `{"summary": ""}`}, producer: ProducerExtractive, reason: ReasonEmpty},
		{name: "error falls back", c: &cannedCompleter{err: errors.New("backend down")}, producer: ProducerExtractive, reason: ReasonError},
		{name: "too long falls back", c: &cannedCompleter{reply: `{"summary": "` + strings.Repeat("Priya went to a group. ", 40) + `"}`},
			producer: ProducerExtractive, reason: ReasonTooLong},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := NewLLM(tc.c, "qwen3-30b-a3b", tok, nil)
			out, err := l.Summarize(context.Background(), in)
			require.NoError(t, err)
			require.Equal(t, tc.producer, out.Producer)
			require.Equal(t, tc.reason, out.FallbackReason)
			require.NotEmpty(t, out.Content)
			require.LessOrEqual(t, tok.Count(out.Content), in.TargetTokens)
			if tc.wantExact != "" {
				require.Equal(t, tc.wantExact, out.Content)
			}
			require.Len(t, tc.c.sent, 1)
		})
	}
}

func TestLLMCanceledIsAnError(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	l := NewLLM(&cannedCompleter{err: context.Canceled}, "m", testTokenizer(), nil)
	_, err := l.Summarize(ctx, Input{Items: chunk, TargetTokens: 50})
	require.ErrorIs(t, err, context.Canceled, "a canceled run is not summarised by the fallback")
}

// TestPromptAsksForWhatTheIssueKeeps pins each instruction of the LLM
// summarizer's prompt: removing a line of it fails here.
func TestPromptAsksForWhatTheIssueKeeps(t *testing.T) {
	items := []Item{
		item("Priya", 8, "I joined a community choir yesterday."),
		{Speaker: "Tomas", From: time.Date(2023, 5, 9, 7, 5, 0, 0, time.UTC), To: time.Date(2023, 5, 9, 7, 5, 0, 0, time.UTC), Content: "I promise to call you next Friday."},
		item("User", 20, "I feel nervous about the move to Lisbon."),
	}
	msgs := Prompt(Input{Level: 0, Items: items, TargetTokens: 96, Language: "en"})
	require.Len(t, msgs, 2)
	sys := msgs[0].Content
	for _, want := range []struct{ what, text string }{
		{"names", "names of people, pets, places and things"},
		{"absolute dates", "dates as absolute dates"},
		{"relative dates resolved against the turn's date", "against the date of the message that says it"},
		{"facts about the user", "facts about the user"},
		{"commitments", "commitments, plans and promises"},
		{"feelings", "feelings that matter"},
		{"the conversation's language", "Write in English."},
		{"the token target", "at most 96 tokens"},
		{"JSON output", `{"summary": "..."}`},
	} {
		require.Contains(t, sys, want.text, "the prompt asks to keep %s", want.what)
	}
	for _, tc := range []struct{ hint, want string }{
		{"", "Write in the language the conversation is written in."},
		{"zh", "Write in Chinese (Simplified)."},
		{"fr", "Write in the language with code fr."},
	} {
		require.Contains(t, Prompt(Input{Items: items, TargetTokens: 10, Language: tc.hint})[0].Content, tc.want, "language hint %q", tc.hint)
	}
	require.Contains(t, Prompt(Input{Items: items, TargetTokens: 7})[0].Content, "at most 7 tokens", "the target is the input's")

	// Each turn on its own line with its date, time and speaker.
	lines := strings.Split(msgs[1].Content, "\n")
	require.Equal(t, []string{
		"[8 May 2023, 13:56] Priya: I joined a community choir yesterday.",
		"[9 May 2023, 07:05] Tomas: I promise to call you next Friday.",
		"[20 May 2023, 13:56] User: I feel nervous about the move to Lisbon.",
	}, lines)

	// A level ≥ 1 prompt shows each summary under its date range.
	up := Prompt(Input{Level: 1, TargetTokens: 50, Items: []Item{
		{From: items[0].From, To: items[1].From, Content: "Priya joined a choir."},
		{From: items[2].From, To: items[2].From, Content: "Priya is nervous about Lisbon."},
	}})
	require.Equal(t, "[8 May 2023 – 9 May 2023]\nPriya joined a choir.\n\n[20 May 2023]\nPriya is nervous about Lisbon.", up[1].Content)
}
