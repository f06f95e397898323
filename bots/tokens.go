package bots

import "github.com/longmem/longmem/retrieval"

// Default shares of the context budget (retrieval.BudgetPolicy's built-in
// defaults) a bot gets when its memory policy and the server set none.
const (
	DefaultPersonaShare = 0.5
	DefaultLoreShare    = 0.1
)

// TokenCounts is what a bot's texts cost, in tokens of the server's
// tokenizer, against the shares of its context budget: what the editor
// shows beside the persona fields and the lore entries.
type TokenCounts struct {
	// BudgetTokens is the budget a chat with the bot assembles within
	// (memory.budget_tokens, else the context window less the max output
	// tokens).
	BudgetTokens int           `json:"budget_tokens"`
	Persona      PersonaTokens `json:"persona"`
	Lore         LoreTokens    `json:"lore"`
}

// PersonaTokens: the persona text (RenderPersona) and the post-history
// instructions, which count against the persona's share together.
type PersonaTokens struct {
	// Tokens is the rendered persona plus the post-history instructions.
	Tokens int `json:"tokens"`
	// Fields are the tokens of each non-empty field ({{char}}/{{user}}
	// expanded): system_prompt, description, personality, scenario,
	// example_dialogues, post_history_instructions.
	Fields map[string]int `json:"fields"`
	// Share is the bot's memory.persona_share, else DefaultPersonaShare
	// (ShareIsDefault: a server may configure another).
	Share          float64 `json:"share"`
	ShareIsDefault bool    `json:"share_is_default,omitempty"`
	// MaxTokens is about Share × BudgetTokens: a persona above it makes
	// every chat a 400 (the exact limit also leaves out the message).
	MaxTokens int `json:"max_tokens"`
	// MinBudgetTokens is about the smallest budget the persona fits in.
	MinBudgetTokens int `json:"min_budget_tokens"`
}

// LoreTokens: each enabled entry's text (decorators stripped, macros
// expanded), the constant ones (always in) and the lore's share.
type LoreTokens struct {
	Entries  []EntryTokens `json:"entries"`
	Constant int           `json:"constant_tokens"`
	// Share is memory.lore_share, else DefaultLoreShare; MaxTokens is
	// about Share × BudgetTokens, capped by the lorebook's token_budget.
	Share          float64 `json:"share"`
	ShareIsDefault bool    `json:"share_is_default,omitempty"`
	MaxTokens      int     `json:"max_tokens"`
}

// EntryTokens is one lore entry's cost.
type EntryTokens struct {
	ID     int `json:"id"`
	Tokens int `json:"tokens"`
}

// Tokens counts b's texts as a chat with it would (user names {{user}};
// "" is DefaultUserName).
func (c *Chat) Tokens(b Bot, user string) TokenCounts {
	return CountTokens(b, user, c.PromptFor(&b, user).BudgetTokens, c.deps.Tokenizer)
}

// CountTokens is Chat.Tokens for a given budget and tokenizer. Pure.
func CountTokens(b Bot, user string, budget int, tok retrieval.Tokenizer) TokenCounts {
	count := func(s string) int { return tok.Count(Expand(s, b.Name, user)) }
	tc := TokenCounts{BudgetTokens: budget}
	p := &tc.Persona
	p.Fields = map[string]int{}
	for name, text := range map[string]string{
		"system_prompt": b.SystemPrompt, "description": b.Description, "personality": b.Personality,
		"scenario": b.Scenario, "example_dialogues": b.ExampleDialogues, "post_history_instructions": b.PostHistoryInstructions,
	} {
		if text != "" {
			p.Fields[name] = count(text)
		}
	}
	p.Tokens = tok.Count(RenderPersona(b, user)) + p.Fields["post_history_instructions"]
	p.Share, p.ShareIsDefault = b.Memory.PersonaShare, b.Memory.PersonaShare == 0
	if p.ShareIsDefault {
		p.Share = DefaultPersonaShare
	}
	p.MaxTokens = int(float64(budget) * p.Share)
	p.MinBudgetTokens = int(float64(p.Tokens)/p.Share) + 1

	l := &tc.Lore
	l.Entries = []EntryTokens{}
	l.Share, l.ShareIsDefault = b.Memory.LoreShare, b.Memory.LoreShare == 0
	if l.ShareIsDefault {
		l.Share = DefaultLoreShare
	}
	l.MaxTokens = int(float64(budget) * l.Share)
	if b.Lorebook == nil {
		return tc
	}
	if tb := b.Lorebook.TokenBudget; tb > 0 {
		l.MaxTokens = min(l.MaxTokens, tb)
	}
	for _, e := range b.Lorebook.Entries {
		d, body := ParseDecorators(e.Content)
		n := count(body)
		l.Entries = append(l.Entries, EntryTokens{ID: e.ID, Tokens: n})
		if e.Enabled && (e.Constant || d.Activate) && !d.never() {
			l.Constant += n
		}
	}
	return tc
}
