package bots_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/bots"
	"github.com/longmem/longmem/bots/llm"
	"github.com/longmem/longmem/bots/llm/llmtest"
	"github.com/longmem/longmem/memory"
	"github.com/longmem/longmem/retrieval"
)

func ptr[T any](v T) *T { return &v }

// A bot's model.backend is the URL called, with the bot's sampling; the
// server's API key goes only to the server's backend.
func TestChatBotBackendOverride(t *testing.T) {
	r := newRig(t, llmtest.Reply(usage, "from the server's backend"), llm.Config{APIKey: "sk-server-secret", Model: "server-model"})
	own := llmtest.New(t, llmtest.Reply(usage, "from the bot's backend"))

	b := aria
	b.Model = bots.ModelConfig{Backend: own.URL, Model: "bots-model", ContextWindow: 4096, MaxOutputTokens: 200,
		Temperature: ptr(0.3), TopP: ptr(0.85), Stop: []string{"\nUser:", "###"}}
	r.put(t, b)
	r.conversation(t, "c", "aria", 0)
	r.conversation(t, "plain", "", 0)

	// Not allowed by the server: refused before anything is sent or stored.
	_, err := r.chat.Send(context.Background(), send("hello", ""))
	require.ErrorIs(t, err, memory.ErrInvalid)
	var ie *memory.InvalidError
	require.ErrorAs(t, err, &ie)
	require.Equal(t, "model.backend", ie.Field)
	require.Zero(t, own.Calls())
	require.Zero(t, r.backend.Calls())

	r.backends.Allow(own.URL + "/")
	res, err := r.chat.Send(context.Background(), send("hello", ""))
	require.NoError(t, err)
	require.Equal(t, "from the bot's backend", res.Reply.Content)
	require.Zero(t, r.backend.Calls(), "the server's backend is not asked for a bot with its own")
	require.Equal(t, 1, own.Calls())
	got := own.Requests()[0]
	require.Empty(t, got.Header.Get("Authorization"), "the server's key never goes to a bot's URL")
	for k, v := range got.Header {
		require.NotContains(t, strings.Join(v, " "), "sk-server-secret", "header %s", k)
	}
	require.Equal(t, "bots-model", got.Model)
	require.EqualValues(t, 0.3, got.Raw["temperature"])
	require.EqualValues(t, 0.85, got.Raw["top_p"])
	require.Equal(t, []any{"\nUser:", "###"}, got.Raw["stop"])
	require.EqualValues(t, 200, got.Raw["max_tokens"])
	require.Equal(t, "c", got.User)

	// A conversation without a bot uses the server's backend, with its key.
	req := send("hello", "")
	req.ConversationID = "plain"
	res, err = r.chat.Send(context.Background(), req)
	require.NoError(t, err)
	require.Equal(t, "from the server's backend", res.Reply.Content)
	require.Equal(t, 1, own.Calls())
	require.Equal(t, 1, r.backend.Calls())
	srv := r.backend.Requests()[0]
	require.Equal(t, "Bearer sk-server-secret", srv.Header.Get("Authorization"))
	require.Equal(t, "server-model", srv.Model)
	_, hasTemp := srv.Raw["temperature"]
	require.False(t, hasTemp, "no bot, no temperature")

	// A bot without model.backend uses the server's backend and key, with
	// its own sampling.
	plainBot := aria
	plainBot.ID = "fern"
	plainBot.Model = bots.ModelConfig{Temperature: ptr(1.1), MaxOutputTokens: 64}
	r.put(t, plainBot)
	r.conversation(t, "f", "fern", 0)
	req.ConversationID = "f"
	_, err = r.chat.Send(context.Background(), req)
	require.NoError(t, err)
	require.Equal(t, 2, r.backend.Calls())
	srv = r.backend.Requests()[1]
	require.Equal(t, "Bearer sk-server-secret", srv.Header.Get("Authorization"))
	require.Equal(t, "server-model", srv.Model, "the server's model when the bot names none")
	require.EqualValues(t, 1.1, srv.Raw["temperature"])
	require.EqualValues(t, 64, srv.Raw["max_tokens"])
}

// A bot's memory policy reaches the assembler: summaries off leaves the
// long-term memory out; recent_max_turns caps the recent window;
// budget_tokens sets the budget.
func TestChatBotMemoryPolicy(t *testing.T) {
	r := newRig(t, llmtest.Reply(usage, "ok"), llm.Config{})
	on := aria
	off := aria
	off.ID = "forgetful"
	off.Memory = bots.MemoryPolicy{Summaries: ptr(false), RecentMaxTurns: 3, BudgetTokens: 2000}
	r.put(t, on)
	r.put(t, off)
	ctx := context.Background()
	for _, id := range []string{"on", "off"} {
		bot := "aria"
		if id == "off" {
			bot = "forgetful"
		}
		r.conversation(t, id, bot, 0)
		var turns []memory.Turn
		for i := range 60 {
			role := memory.RoleUser
			if i%2 == 1 {
				role = memory.RoleAssistant
			}
			c := fmt.Sprintf("turn %d about ferns and moss number %d.", i+1, i)
			turns = append(turns, memory.Turn{Role: role, Content: c, Tokens: sharedTok.Count(c), CreatedAt: time.Date(2026, 1, 1, 0, i, 0, 0, time.UTC)})
		}
		_, err := r.store.AppendTurns(ctx, "", id, turns, memory.AppendOptions{})
		require.NoError(t, err)
		ss := r.store.(memory.SummaryStore)
		_, err = ss.AddSummary(ctx, "", id, memory.Summary{Level: 0, FromSeq: 1, ToSeq: 20, Content: "Alice and Aria discussed ferns.", Tokens: 8,
			FromTime: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), ToTime: time.Date(2026, 1, 1, 0, 19, 0, 0, time.UTC)})
		require.NoError(t, err)
	}
	report := func(conv string) (*retrieval.Report, string) {
		req := send("What about the moss?", "")
		req.ConversationID = conv
		res, err := r.chat.Send(ctx, req)
		require.NoError(t, err)
		reqs := r.backend.Requests()
		var all strings.Builder
		for _, m := range reqs[len(reqs)-1].Messages {
			all.WriteString(m.Content + "\n")
		}
		return res.Report, all.String()
	}
	section := func(rep *retrieval.Report, name string) retrieval.SectionReport {
		for _, s := range rep.Sections {
			if s.Name == name {
				return s
			}
		}
		return retrieval.SectionReport{}
	}

	repOn, promptOn := report("on")
	require.NotEmpty(t, repOn.Summaries, "the default policy has summaries")
	require.Contains(t, promptOn, "Alice and Aria discussed ferns.")
	require.Greater(t, section(repOn, retrieval.SectionRecent).Items, 3)
	require.Equal(t, 4096-256, repOn.BudgetTokens)

	repOff, promptOff := report("off")
	require.Empty(t, repOff.Summaries, "summaries: false")
	require.NotContains(t, promptOff, "Alice and Aria discussed ferns.")
	require.NotContains(t, promptOff, "Long-term memory")
	require.Equal(t, 0, section(repOff, retrieval.SectionSummary).Items)
	require.LessOrEqual(t, section(repOff, retrieval.SectionRecent).Items, 3, "recent_max_turns")
	require.Positive(t, section(repOff, retrieval.SectionRecent).Items)
	require.Equal(t, 2000, repOff.BudgetTokens, "memory.budget_tokens")
}

// Prefix cache: across two consecutive replies the first system message
// (persona and constant lore) is byte-identical, and so is the summaries
// section when the summaries did not change. In the cache layout the
// summaries sit in the second system message, after the recent window,
// which the new turns change; so what is asserted of them is the text of
// their section, not their offset in the prompt.
func TestChatConsecutiveRepliesKeepPrefixAndSummaries(t *testing.T) {
	r := newRig(t, llmtest.Reply(usage, "Moss likes shade."), llm.Config{})
	b := aria
	b.Lorebook = &bots.Lorebook{Entries: []bots.LoreEntry{{ID: 1, Constant: true, Enabled: true, Content: "The greenhouse is on Kestrel Island."}}}
	r.put(t, b)
	r.conversation(t, "c", "aria", 0)
	ctx := context.Background()
	var turns []memory.Turn
	for i := range 80 {
		role := memory.RoleUser
		if i%2 == 1 {
			role = memory.RoleAssistant
		}
		c := fmt.Sprintf("turn %d: we repotted plant number %d today.", i+1, i)
		turns = append(turns, memory.Turn{Role: role, Content: c, Tokens: sharedTok.Count(c), CreatedAt: time.Date(2026, 1, 1, 0, i, 0, 0, time.UTC)})
	}
	_, err := r.store.AppendTurns(ctx, "", "c", turns, memory.AppendOptions{})
	require.NoError(t, err)
	ss := r.store.(memory.SummaryStore)
	for _, sm := range []memory.Summary{
		{Level: 0, FromSeq: 1, ToSeq: 20, Content: "They repotted the first twenty plants."},
		{Level: 0, FromSeq: 21, ToSeq: 40, Content: "They repotted twenty more and talked about moss."},
	} {
		sm.Tokens = sharedTok.Count(sm.Content)
		sm.FromTime, sm.ToTime = turns[sm.FromSeq-1].CreatedAt, turns[sm.ToSeq-1].CreatedAt
		_, err = ss.AddSummary(ctx, "", "c", sm)
		require.NoError(t, err)
	}

	var reports []*retrieval.Report
	for _, q := range []string{"How is the moss doing?", "And the ferns?"} {
		res, err := r.chat.Send(ctx, send(q, ""))
		require.NoError(t, err)
		reports = append(reports, res.Report)
	}
	reqs := r.backend.Requests()
	require.Len(t, reqs, 2)
	first, second := reqs[0].Messages, reqs[1].Messages
	require.Equal(t, "system", first[0].Role)
	require.Contains(t, first[0].Content, "Kestrel Island")
	require.Equal(t, first[0], second[0], "the first system message is byte-identical")

	// summaries returns the summaries section of a prompt's system
	// messages: from its heading to the next blank line.
	summaries := func(msgs []llmtest.Message) string {
		for _, m := range msgs[1:] {
			if m.Role != "system" {
				continue
			}
			i := strings.Index(m.Content, "Long-term memory")
			if i < 0 {
				continue
			}
			s := m.Content[i:]
			if j := strings.Index(s, "\n\n"); j >= 0 {
				s = s[:j]
			}
			return s
		}
		return ""
	}
	s1, s2 := summaries(first), summaries(second)
	require.Contains(t, s1, "They repotted the first twenty plants.")
	require.Contains(t, s1, "They repotted twenty more and talked about moss.")
	require.Equal(t, s1, s2, "the summaries section is byte-identical")
	require.Equal(t, reports[0].Summaries, reports[1].Summaries)
	require.NotEqual(t, first[len(first)-1].Content, second[len(second)-1].Content)
}

// A lore entry's position reaches the prompt: before_char puts a constant
// entry before the persona and a triggered one before the summaries;
// after_char (and no position) after the persona and at the end.
func TestChatLorePositions(t *testing.T) {
	r := newRig(t, llmtest.Reply(usage, "ok"), llm.Config{})
	b := aria
	b.Lorebook = &bots.Lorebook{Entries: []bots.LoreEntry{
		{ID: 1, Constant: true, Enabled: true, Position: bots.PositionBeforeChar, Content: "World rule: plants can talk."},
		{ID: 2, Constant: true, Enabled: true, Content: "The greenhouse is on Kestrel Island."},
		{ID: 3, Keys: []string{"orchid"}, Enabled: true, Position: bots.PositionBeforeChar, Content: "Orchids need humidity."},
		{ID: 4, Keys: []string{"orchid"}, Enabled: true, Position: bots.PositionAfterChar, Content: "{{char}} grows a ghost orchid."},
	}}
	r.put(t, b)
	r.conversation(t, "c", "aria", 0)
	res, err := r.chat.Send(context.Background(), send("How is the orchid?", ""))
	require.NoError(t, err)
	msgs := r.backend.Requests()[0].Messages
	require.True(t, strings.HasPrefix(msgs[0].Content, "World info:\nWorld rule: plants can talk.\n\nCharacter: Aria"), msgs[0].Content)
	require.True(t, strings.HasSuffix(msgs[0].Content, "\n\nWorld info:\nThe greenhouse is on Kestrel Island."), msgs[0].Content)
	vol := msgs[len(msgs)-2]
	require.Equal(t, "system", vol.Role)
	require.True(t, strings.HasPrefix(vol.Content, "World info relevant now:\nOrchids need humidity."), vol.Content)
	require.True(t, strings.HasSuffix(vol.Content, "World info relevant now:\nAria grows a ghost orchid."), vol.Content)
	var sections []string
	for _, l := range res.Report.Lore {
		sections = append(sections, l.Section)
	}
	require.Equal(t, []string{retrieval.SectionLoreConstantBefore, retrieval.SectionLoreConstant, retrieval.SectionLoreBefore, retrieval.SectionLore}, sections)
}
