package bots

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestExpand(t *testing.T) {
	for _, tc := range []struct {
		name, text, char, user, want string
	}{
		{"no macros", "Hello there.", "Aria", "Bob", "Hello there."},
		{"both", "{{char}} greets {{user}}.", "Aria", "Bob", "Aria greets Bob."},
		{"any case", "{{Char}}, {{CHAR}}, {{uSeR}}", "Aria", "Bob", "Aria, Aria, Bob"},
		{"legacy", "<BOT> waves at <USER>; <bot>/<user>", "Aria", "Bob", "Aria waves at Bob; Aria/Bob"},
		{"default user", "Hi {{user}}", "Aria", "", "Hi User"},
		{"unknown macros kept", "{{random}} {{char} <b>bold</b> {char}", "Aria", "Bob", "{{random}} {{char} <b>bold</b> {char}"},
		{"adjacent", "{{char}}{{user}}{{char}}", "A", "B", "ABA"},
		{"at end, truncated", "x {{cha", "A", "B", "x {{cha"},
		{"replacement not expanded again", "{{user}}", "Aria", "{{char}}", "{{char}}"},
		{"multibyte around", "«{{char}}» — 你好 {{user}}", "Ária", "Bób", "«Ária» — 你好 Bób"},
		{"empty", "", "A", "B", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, Expand(tc.text, tc.char, tc.user))
		})
	}
}

func TestRenderPersona(t *testing.T) {
	full := Bot{
		Name:             "Aria",
		SystemPrompt:     "You are {{char}}, talking with {{user}}.\r\n",
		Description:      "  A ship's AI.  ",
		Personality:      "Dry humour.",
		Scenario:         "{{user}} wakes up on the ship.",
		ExampleDialogues: "<START>\n{{user}}: Hi\n{{char}}: Hello, <USER>.",
		FirstMessage:     "not part of the persona",
	}
	for _, tc := range []struct {
		name string
		bot  Bot
		user string
		want string
	}{
		{"full", full, "Bob", "You are Aria, talking with Bob.\n\n" +
			"Character: Aria\nA ship's AI.\n\n" +
			"Personality:\nDry humour.\n\n" +
			"Scenario:\nBob wakes up on the ship.\n\n" +
			"Example dialogues:\n<START>\nBob: Hi\nAria: Hello, Bob."},
		{"empty parts omitted", Bot{Name: "Aria", Personality: "Calm.", Scenario: "   "}, "Bob", "Personality:\nCalm."},
		{"nothing", Bot{Name: "Aria"}, "Bob", ""},
		{"default user", Bot{Name: "Aria", Scenario: "{{user}} arrives."}, "", "Scenario:\nUser arrives."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, RenderPersona(tc.bot, tc.user))
		})
	}
	// The same bot renders byte-identically, whatever its other fields.
	other := full
	other.Version, other.Metadata, other.Tags = 7, map[string]any{"a": 1.0, "b": 2.0}, []string{"x"}
	require.Equal(t, RenderPersona(full, "Bob"), RenderPersona(other, "Bob"))
}
