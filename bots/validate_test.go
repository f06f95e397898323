package bots

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/memory"
)

func ptr[T any](v T) *T { return &v }

// validBot is a bot using every group of fields, valid.
func validBot() Bot {
	return Bot{
		ID: "aria_2-x", Name: "Aria", Description: "A ship's AI.",
		AlternateGreetings: []string{"Hello."},
		Tags:               []string{"sci-fi", "ai"},
		Model: ModelConfig{Backend: "http://127.0.0.1:8000/v1", Model: "hunyuan", ContextWindow: 32768, MaxOutputTokens: 1024,
			Temperature: ptr(0.8), TopP: ptr(0.95), Stop: []string{"\nUser:"}},
		Memory: MemoryPolicy{RecentShare: 0.3, SummaryShare: 0.2, PersonaShare: 0.2, LoreShare: 0.3},
		Lorebook: &Lorebook{ScanDepth: 4, Entries: []LoreEntry{
			{ID: 0, Keys: []string{"castle"}, Content: "The castle is old.", Enabled: true},
			{ID: 1, Constant: true, Content: "Always true.", Enabled: true},
			{ID: 2, Keys: []string{"ship"}, SecondaryKeys: []string{"engine"}, Selective: true, SelectiveLogic: LogicNotAll, Position: PositionAfterChar, Content: "x"},
		}},
	}
}

func TestValidate(t *testing.T) {
	require.NoError(t, Validate(validBot()))
	require.NoError(t, Validate(Bot{ID: "b", Name: "Minimal"}))
	require.NoError(t, Validate(Bot{ID: strings.Repeat("a", 64), Name: strings.Repeat("é", 200),
		Model:  ModelConfig{ContextWindow: 512, MaxOutputTokens: 511, Temperature: ptr(2.0), TopP: ptr(0.0)},
		Memory: MemoryPolicy{RecentShare: 1}}), "limits are inclusive")

	for _, tc := range []struct {
		field string
		edit  func(b *Bot)
	}{
		{"id", func(b *Bot) { b.ID = "" }},
		{"id", func(b *Bot) { b.ID = "has space" }},
		{"id", func(b *Bot) { b.ID = "dot.ted" }},
		{"id", func(b *Bot) { b.ID = strings.Repeat("a", 65) }},
		{"name", func(b *Bot) { b.Name = "" }},
		{"name", func(b *Bot) { b.Name = "  \t" }},
		{"name", func(b *Bot) { b.Name = strings.Repeat("é", 201) }},
		{"description", func(b *Bot) { b.Description = strings.Repeat("x", 64<<10+1) }},
		{"system_prompt", func(b *Bot) { b.SystemPrompt = "bad \xff utf-8" }},
		{"post_history_instructions", func(b *Bot) { b.PostHistoryInstructions = strings.Repeat("x", 64<<10+1) }},
		{"alternate_greetings[0]", func(b *Bot) { b.AlternateGreetings[0] = strings.Repeat("x", 64<<10+1) }},
		{"tags", func(b *Bot) { b.Tags = make([]string, 51) }},
		{"tags[1]", func(b *Bot) { b.Tags[1] = strings.Repeat("t", 65) }},
		{"tags[0]", func(b *Bot) { b.Tags[0] = "" }},
		{"model.backend", func(b *Bot) { b.Model.Backend = "ftp://x" }},
		{"model.backend", func(b *Bot) { b.Model.Backend = "not a url" }},
		{"model.temperature", func(b *Bot) { b.Model.Temperature = ptr(2.01) }},
		{"model.temperature", func(b *Bot) { b.Model.Temperature = ptr(-0.1) }},
		{"model.top_p", func(b *Bot) { b.Model.TopP = ptr(1.5) }},
		{"model.context_window", func(b *Bot) { b.Model.ContextWindow = 511 }},
		{"model.context_window", func(b *Bot) { b.Model.ContextWindow = 10_000_001 }},
		{"model.context_window", func(b *Bot) { b.Model.ContextWindow = -1 }},
		{"model.max_output_tokens", func(b *Bot) { b.Model.MaxOutputTokens = b.Model.ContextWindow }},
		{"model.max_output_tokens", func(b *Bot) { b.Model.MaxOutputTokens = -1 }},
		{"model.max_output_tokens", func(b *Bot) { b.Model.ContextWindow, b.Model.MaxOutputTokens = 0, 8192 }},
		{"model.stop[0]", func(b *Bot) { b.Model.Stop = []string{""} }},
		{"memory.recent_share", func(b *Bot) { b.Memory.RecentShare = 1.1 }},
		{"memory.lore_share", func(b *Bot) { b.Memory.LoreShare = -0.1 }},
		{"memory", func(b *Bot) { b.Memory.LoreShare = 0.31 }},
		{"memory.recent_max_turns", func(b *Bot) { b.Memory.RecentMaxTurns = -1 }},
		{"memory.budget_tokens", func(b *Bot) { b.Memory.BudgetTokens = -1 }},
		{"lorebook.scan_depth", func(b *Bot) { b.Lorebook.ScanDepth = -1 }},
		{"lorebook.entries[2].id", func(b *Bot) { b.Lorebook.Entries[2].ID = 0 }},
		{"lorebook.entries[0].id", func(b *Bot) { b.Lorebook.Entries[0].ID = -1 }},
		{"lorebook.entries[0].keys[1]", func(b *Bot) { b.Lorebook.Entries[0].Keys = []string{"a", " "} }},
		{"lorebook.entries[2].secondary_keys[0]", func(b *Bot) { b.Lorebook.Entries[2].SecondaryKeys = []string{""} }},
		{"lorebook.entries[2].selective_logic", func(b *Bot) { b.Lorebook.Entries[2].SelectiveLogic = "or" }},
		{"lorebook.entries[1].position", func(b *Bot) { b.Lorebook.Entries[1].Position = "top" }},
		{"lorebook.entries[1].content", func(b *Bot) { b.Lorebook.Entries[1].Content = strings.Repeat("x", 64<<10+1) }},
	} {
		t.Run(tc.field, func(t *testing.T) {
			b := validBot()
			tc.edit(&b)
			err := Validate(b)
			require.ErrorIs(t, err, memory.ErrInvalid)
			var ie *memory.InvalidError
			require.True(t, errors.As(err, &ie))
			require.Equal(t, tc.field, ie.Field, ie.Error())
		})
	}
}

func TestETag(t *testing.T) {
	require.Equal(t, `"aria.v3"`, ETag("aria", 3))
	_, _, ok := ParseETag(ETag("my.bot-1_x", 12))
	require.False(t, ok, "a dot is not in a bot id")
	id, v, ok := ParseETag(ETag("bot-1_x", 12))
	require.True(t, ok)
	require.Equal(t, "bot-1_x", id)
	require.Equal(t, 12, v)
	for _, bad := range []string{``, `"`, `aria.v3`, `W/"aria.v3"`, `"aria.v0"`, `"aria.v03"`, `"aria.v"`, `"aria.3"`, `".v3"`, `"aria.v-1"`, `"aria.v99999999999"`} {
		_, _, ok := ParseETag(bad)
		require.False(t, ok, bad)
	}
}

func TestMatches(t *testing.T) {
	b := Bot{Name: "Aria", Description: "A Ship's AI", Tags: []string{"Sci-Fi"}}
	for q, want := range map[string]bool{"": true, "ari": true, "SHIP": true, "sci-f": true, "fantasy": false, "aria ship": false} {
		require.Equal(t, want, Matches(b, q), q)
	}
}
