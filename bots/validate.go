package bots

import (
	"fmt"
	"math"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/longmem/longmem/memory"
)

// Limits of a bot, checked by Validate.
const (
	MaxIDLen             = 64       // characters of [A-Za-z0-9_-]
	MaxNameLen           = 200      // characters (runes)
	MaxTextBytes         = 64 << 10 // bytes of UTF-8 per text field
	MaxTags              = 50
	MaxTagLen            = 64 // characters (runes)
	MinContextWindow     = 512
	MaxContextWindow     = 10_000_000
	DefaultContextWindow = 8192 // tokens, when ModelConfig.ContextWindow is 0
	MaxStops             = 16
	MaxGreetings         = 100
	MaxLoreEntries       = 10_000
	MaxLoreKeys          = 256 // keys (and, apart, secondary keys) per entry
)

// Selective logics of a lore entry's secondary keys.
const (
	LogicAndAny = "and_any"
	LogicAndAll = "and_all"
	LogicNotAny = "not_any"
	LogicNotAll = "not_all"
)

// Positions of a lore entry relative to the character definition (see
// LoreEntry.Position); empty is after_char.
const (
	PositionBeforeChar = "before_char"
	PositionAfterChar  = "after_char"
)

// ValidID reports whether id is 1..MaxIDLen characters of [A-Za-z0-9_-].
func ValidID(id string) bool {
	if id == "" || len(id) > MaxIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Validate checks b as it is to be stored (the id set: the API assigns one
// before validating). The first broken rule is returned as a
// *memory.InvalidError whose Field is the JSON path of the field, e.g.
// "name", "model.temperature", "lorebook.entries[2].keys". The fields the
// store sets (version, author, times) and Tenant are not checked.
func Validate(b Bot) error {
	if !ValidID(b.ID) {
		if b.ID == "" {
			return memory.Invalid("id", "must not be empty")
		}
		return memory.Invalid("id", "%q is not 1 to %d characters of [A-Za-z0-9_-]", clip(b.ID), MaxIDLen)
	}
	if strings.TrimSpace(b.Name) == "" {
		return memory.Invalid("name", "is required")
	}
	if len(b.Avatar) > 0 && !b.Avatar.IsPNG() {
		return memory.Invalid("avatar", "is not a PNG image")
	}
	if len(b.Avatar) > MaxAvatarBytes {
		return memory.Invalid("avatar", "is %d bytes; the maximum is %d", len(b.Avatar), MaxAvatarBytes)
	}
	if err := checkText("name", b.Name); err != nil {
		return err
	}
	if n := utf8.RuneCountInString(b.Name); n > MaxNameLen {
		return memory.Invalid("name", "is %d characters; the maximum is %d", n, MaxNameLen)
	}
	for _, f := range []struct{ field, text string }{
		{"description", b.Description},
		{"personality", b.Personality},
		{"scenario", b.Scenario},
		{"first_message", b.FirstMessage},
		{"example_dialogues", b.ExampleDialogues},
		{"system_prompt", b.SystemPrompt},
		{"post_history_instructions", b.PostHistoryInstructions},
		{"creator_notes", b.CreatorNotes},
		{"creator", b.Creator},
		{"character_version", b.CharacterVersion},
	} {
		if err := checkText(f.field, f.text); err != nil {
			return err
		}
	}
	if len(b.AlternateGreetings) > MaxGreetings {
		return memory.Invalid("alternate_greetings", "has %d greetings; the maximum is %d", len(b.AlternateGreetings), MaxGreetings)
	}
	for i, g := range b.AlternateGreetings {
		if err := checkText(fmt.Sprintf("alternate_greetings[%d]", i), g); err != nil {
			return err
		}
	}
	if len(b.Tags) > MaxTags {
		return memory.Invalid("tags", "has %d tags; the maximum is %d", len(b.Tags), MaxTags)
	}
	for i, tag := range b.Tags {
		field := fmt.Sprintf("tags[%d]", i)
		if !utf8.ValidString(tag) {
			return memory.Invalid(field, "is not valid UTF-8")
		}
		if strings.TrimSpace(tag) == "" {
			return memory.Invalid(field, "must not be empty")
		}
		if n := utf8.RuneCountInString(tag); n > MaxTagLen {
			return memory.Invalid(field, "is %d characters; the maximum is %d", n, MaxTagLen)
		}
	}
	if err := validateModel(b.Model); err != nil {
		return err
	}
	if err := validateMemory(b.Memory); err != nil {
		return err
	}
	if b.Lorebook != nil {
		if err := validateLorebook(*b.Lorebook); err != nil {
			return err
		}
	}
	return nil
}

func validateModel(m ModelConfig) error {
	if m.Backend != "" {
		u, err := url.Parse(m.Backend)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return memory.Invalid("model.backend", "%q is not an http(s) URL", clip(m.Backend))
		}
	}
	if err := checkText("model.model", m.Model); err != nil {
		return err
	}
	if len(m.Model) > 256 {
		return memory.Invalid("model.model", "is %d bytes; the maximum is 256", len(m.Model))
	}
	if m.ContextWindow != 0 && (m.ContextWindow < MinContextWindow || m.ContextWindow > MaxContextWindow) {
		return memory.Invalid("model.context_window", "is %d; want 0 (the default, %d) or %d to %d tokens", m.ContextWindow, DefaultContextWindow, MinContextWindow, MaxContextWindow)
	}
	window := m.ContextWindow
	if window == 0 {
		window = DefaultContextWindow
	}
	if m.MaxOutputTokens < 0 || m.MaxOutputTokens >= window {
		return memory.Invalid("model.max_output_tokens", "is %d; want 0 (the default) or 1 to %d, less than the context window of %d tokens", m.MaxOutputTokens, window-1, window)
	}
	if t := m.Temperature; t != nil && !(*t >= 0 && *t <= 2) {
		return memory.Invalid("model.temperature", "is %v; want 0 to 2", *t)
	}
	if p := m.TopP; p != nil && !(*p >= 0 && *p <= 1) {
		return memory.Invalid("model.top_p", "is %v; want 0 to 1", *p)
	}
	if len(m.Stop) > MaxStops {
		return memory.Invalid("model.stop", "has %d stop sequences; the maximum is %d", len(m.Stop), MaxStops)
	}
	for i, s := range m.Stop {
		field := fmt.Sprintf("model.stop[%d]", i)
		if s == "" {
			return memory.Invalid(field, "must not be empty")
		}
		if err := checkText(field, s); err != nil {
			return err
		}
	}
	return nil
}

func validateMemory(p MemoryPolicy) error {
	if p.BudgetTokens < 0 || p.BudgetTokens > MaxContextWindow {
		return memory.Invalid("memory.budget_tokens", "is %d; want 0 (the default) to %d", p.BudgetTokens, MaxContextWindow)
	}
	if p.RecentMaxTurns < 0 {
		return memory.Invalid("memory.recent_max_turns", "is %d; want 0 (the default) or more", p.RecentMaxTurns)
	}
	sum := 0.0
	for _, s := range []struct {
		field string
		v     float64
	}{
		{"memory.recent_share", p.RecentShare},
		{"memory.summary_share", p.SummaryShare},
		{"memory.persona_share", p.PersonaShare},
		{"memory.lore_share", p.LoreShare},
	} {
		if math.IsNaN(s.v) || s.v < 0 || s.v > 1 {
			return memory.Invalid(s.field, "is %v; want 0 to 1", s.v)
		}
		sum += s.v
	}
	if sum > 1+1e-9 {
		return memory.Invalid("memory", "the shares add up to %v; their sum must be at most 1", sum)
	}
	return nil
}

func validateLorebook(l Lorebook) error {
	if err := checkText("lorebook.name", l.Name); err != nil {
		return err
	}
	if err := checkText("lorebook.description", l.Description); err != nil {
		return err
	}
	if l.ScanDepth < 0 {
		return memory.Invalid("lorebook.scan_depth", "is %d; want 0 (the default) or more", l.ScanDepth)
	}
	if l.TokenBudget < 0 {
		return memory.Invalid("lorebook.token_budget", "is %d; want 0 (the lore share) or more", l.TokenBudget)
	}
	if len(l.Entries) > MaxLoreEntries {
		return memory.Invalid("lorebook.entries", "has %d entries; the maximum is %d", len(l.Entries), MaxLoreEntries)
	}
	seen := make(map[int]int, len(l.Entries))
	for i, e := range l.Entries {
		at := fmt.Sprintf("lorebook.entries[%d]", i)
		if e.ID < 0 {
			return memory.Invalid(at+".id", "is %d; want 0 or more", e.ID)
		}
		if j, dup := seen[e.ID]; dup {
			return memory.Invalid(at+".id", "%d is also the id of lorebook.entries[%d]; ids must be unique", e.ID, j)
		}
		seen[e.ID] = i
		if err := checkKeys(at+".keys", e.Keys); err != nil {
			return err
		}
		if err := checkKeys(at+".secondary_keys", e.SecondaryKeys); err != nil {
			return err
		}
		switch e.SelectiveLogic {
		case "", LogicAndAny, LogicAndAll, LogicNotAny, LogicNotAll:
		default:
			return memory.Invalid(at+".selective_logic", "%q is not one of and_any, and_all, not_any, not_all", clip(e.SelectiveLogic))
		}
		switch e.Position {
		case "", PositionBeforeChar, PositionAfterChar:
		default:
			return memory.Invalid(at+".position", "%q is not one of before_char, after_char", clip(e.Position))
		}
		for _, f := range []struct{ field, text string }{
			{".name", e.Name}, {".comment", e.Comment}, {".content", e.Content},
		} {
			if err := checkText(at+f.field, f.text); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkKeys(field string, keys []string) error {
	if len(keys) > MaxLoreKeys {
		return memory.Invalid(field, "has %d keys; the maximum is %d", len(keys), MaxLoreKeys)
	}
	for i, k := range keys {
		f := fmt.Sprintf("%s[%d]", field, i)
		if strings.TrimSpace(k) == "" {
			return memory.Invalid(f, "must not be empty")
		}
		if err := checkText(f, k); err != nil {
			return err
		}
	}
	return nil
}

// checkText checks one text field: valid UTF-8, at most MaxTextBytes.
func checkText(field, s string) error {
	if len(s) > MaxTextBytes {
		return memory.Invalid(field, "is %d bytes; the maximum is %d", len(s), MaxTextBytes)
	}
	if !utf8.ValidString(s) {
		return memory.Invalid(field, "is not valid UTF-8")
	}
	return nil
}

// clip shortens s for an error message.
func clip(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
