package bots

import (
	"strings"
)

// DefaultUserName replaces {{user}} when the user's name is not known.
const DefaultUserName = "User"

// macros are the names Expand replaces, matched without regard to case.
// <BOT> and <USER> are the legacy (Tavern/Pygmalion) spellings.
var macros = [...]struct {
	name string
	user bool // replaced by the user's name, else by the character's
}{
	{"{{char}}", false},
	{"{{user}}", true},
	{"<bot>", false},
	{"<user>", true},
}

// Expand replaces the macros {{char}} and <BOT> with char, and {{user}} and
// <USER> with user (DefaultUserName when user is empty), matching them in
// any case ({{Char}}, {{USER}} …). Other text, other {{macros}} included,
// is kept byte for byte. Replacement text is not expanded again.
func Expand(text, char, user string) string {
	if user == "" {
		user = DefaultUserName
	}
	if !strings.ContainsAny(text, "{<") {
		return text
	}
	var b strings.Builder
	start := 0 // text[start:i] is pending, not yet written
	for i := 0; i < len(text); i++ {
		if text[i] != '{' && text[i] != '<' {
			continue
		}
		for _, m := range macros {
			if len(text)-i >= len(m.name) && strings.EqualFold(text[i:i+len(m.name)], m.name) {
				if b.Len() == 0 {
					b.Grow(len(text) + 32)
				}
				b.WriteString(text[start:i])
				if m.user {
					b.WriteString(user)
				} else {
					b.WriteString(char)
				}
				i += len(m.name) - 1
				start = i + 1
				break
			}
		}
	}
	if start == 0 {
		return text
	}
	b.WriteString(text[start:])
	return b.String()
}

// RenderPersona is the system text of b for a user named user: the system
// prompt, then the labelled sections "Character: NAME" (the description),
// "Personality", "Scenario" and "Example dialogues", separated by blank
// lines. Macros are expanded (char = b.Name), line endings normalised to
// "\n" and each part trimmed of surrounding white space; empty parts are
// left out with their labels, and a bot with none of them renders as "".
//
// The result depends only on those fields of b and on user, never on time
// or map order, so the same bot version gives byte-identical text: the
// prompt's prefix stays cacheable by the inference backend. Lore, first
// message and post-history instructions are not part of it.
func RenderPersona(b Bot, user string) string {
	part := func(s string) string {
		return strings.TrimSpace(strings.ReplaceAll(Expand(s, b.Name, user), "\r\n", "\n"))
	}
	var sections []string
	add := func(label, text string) {
		text = part(text)
		if text == "" {
			return
		}
		if label != "" {
			text = label + "\n" + text
		}
		sections = append(sections, text)
	}
	add("", b.SystemPrompt)
	name := strings.TrimSpace(b.Name)
	if name == "" {
		add("Character:", b.Description)
	} else {
		add("Character: "+name, b.Description)
	}
	add("Personality:", b.Personality)
	add("Scenario:", b.Scenario)
	add("Example dialogues:", b.ExampleDialogues)
	return strings.Join(sections, "\n\n")
}
