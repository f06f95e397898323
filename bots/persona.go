package bots

import (
	"strings"
)

// DefaultUserName is what {{user}} becomes when the user gave no name.
const DefaultUserName = "User"

// expandMacros replaces {{char}} with char and {{user}} with user in s,
// case-insensitively, and the older <BOT> and <USER> forms too.
func expandMacros(s, char, user string) string {
	if !strings.ContainsAny(s, "{<") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		matched := false
		for _, m := range [...]struct{ pat, val string }{
			{"{{char}}", char}, {"{{user}}", user}, {"<bot>", char}, {"<user>", user},
		} {
			if len(s)-i >= len(m.pat) && strings.EqualFold(s[i:i+len(m.pat)], m.pat) {
				b.WriteString(m.val)
				i += len(m.pat)
				matched = true
				break
			}
		}
		if !matched {
			b.WriteByte(s[i])
			i++
		}
	}
	return b.String()
}

// renderPersonaText is the persona (system prompt) of bot b for a user
// named user: the system prompt, description, personality, scenario,
// example dialogues and post-history instructions, macros expanded, in
// that fixed order so that consecutive prompts share it byte for byte.
// The creator's notes are never sent.
func renderPersonaText(b *Bot, user string) string {
	if b == nil {
		return ""
	}
	if user == "" {
		user = DefaultUserName
	}
	var parts []string
	add := func(prefix, text string) {
		if text = strings.TrimSpace(text); text != "" {
			parts = append(parts, expandMacros(prefix+text, b.Name, user))
		}
	}
	sys := b.SystemPrompt
	if strings.TrimSpace(sys) == "" {
		sys = "Write {{char}}'s next reply in a fictional chat between {{char}} and {{user}}. Stay in character."
	}
	add("", sys)
	add("", b.Description)
	add("{{char}}'s personality: ", b.Personality)
	add("Scenario: ", b.Scenario)
	add("Example dialogue:\n", b.ExampleDialogues)
	add("", b.PostHistoryInstructions)
	return strings.Join(parts, "\n\n")
}
