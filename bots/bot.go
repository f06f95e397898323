package bots

import "time"

// Bot is one persona bot as bot designers define it. Every text field may
// contain the {{char}} and {{user}} macros (replaced when a prompt is built,
// never in storage). The JSON form is the REST API's.
type Bot struct {
	// ID is [A-Za-z0-9_-]{1,64}; assigned by the server when empty on create.
	ID     string `json:"id"`
	Tenant string `json:"-"`
	// Name is required: 1 to 200 characters.
	Name                    string   `json:"name"`
	Description             string   `json:"description,omitempty"`
	Personality             string   `json:"personality,omitempty"`
	Scenario                string   `json:"scenario,omitempty"`
	FirstMessage            string   `json:"first_message,omitempty"`
	AlternateGreetings      []string `json:"alternate_greetings,omitempty"`
	ExampleDialogues        string   `json:"example_dialogues,omitempty"`
	SystemPrompt            string   `json:"system_prompt,omitempty"`
	PostHistoryInstructions string   `json:"post_history_instructions,omitempty"`
	// CreatorNotes, Creator and CharacterVersion are Character Card fields
	// kept for round-trips (never sent to the model).
	CreatorNotes     string `json:"creator_notes,omitempty"`
	Creator          string `json:"creator,omitempty"`
	CharacterVersion string `json:"character_version,omitempty"`

	Lorebook *Lorebook    `json:"lorebook,omitempty"`
	Model    ModelConfig  `json:"model"`
	Memory   MemoryPolicy `json:"memory"`

	Tags     []string       `json:"tags,omitempty"`
	Metadata map[string]any `json:"metadata,omitempty"`
	// Extensions are the card's "extensions", unknown keys included, kept
	// verbatim for round-trips.
	Extensions map[string]any `json:"extensions,omitempty"`
	// Card holds card fields longmem has no place for (V3 assets, nickname,
	// source, creation dates …), verbatim, so an export gives them back.
	Card map[string]any `json:"card,omitempty"`
	// Avatar is the bot's picture (a card's image), used when it is
	// exported as a PNG card. The API shows {url, bytes} in its place and
	// serves the picture at GET /v1/bots/{id}/avatar.
	Avatar Avatar `json:"avatar,omitempty"`

	// Version is 1 for a new bot and grows by one with every update; each
	// version is immutable. Set by the store.
	Version   int       `json:"version"`
	Author    string    `json:"author,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// ModelConfig says which inference backend and model answer for a bot and
// how. Zero fields take the server's defaults.
type ModelConfig struct {
	// Backend is the base URL of an OpenAI-compatible server; empty uses the
	// server's --backend-url.
	Backend string `json:"backend,omitempty"`
	// Model is the model name sent to the backend; empty uses the server's
	// --backend-model.
	Model string `json:"model,omitempty"`
	// ContextWindow is the model's window in tokens (default 8192).
	ContextWindow int `json:"context_window,omitempty"`
	// MaxOutputTokens caps a reply, in tokens (default 512).
	MaxOutputTokens int      `json:"max_output_tokens,omitempty"`
	Temperature     *float64 `json:"temperature,omitempty"`
	TopP            *float64 `json:"top_p,omitempty"`
	Stop            []string `json:"stop,omitempty"`
}

// MemoryPolicy overrides the assembler's budget policy for a bot's
// conversations. Zero fields keep the server's defaults.
type MemoryPolicy struct {
	// BudgetTokens is the context budget; 0 means the model's context window
	// minus its max output tokens.
	BudgetTokens   int     `json:"budget_tokens,omitempty"`
	RecentShare    float64 `json:"recent_share,omitempty"`
	RecentMaxTurns int     `json:"recent_max_turns,omitempty"`
	SummaryShare   float64 `json:"summary_share,omitempty"`
	PersonaShare   float64 `json:"persona_share,omitempty"`
	LoreShare      float64 `json:"lore_share,omitempty"`
	// Summaries turns the long-term memory section on or off (nil: on).
	Summaries *bool `json:"summaries,omitempty"`
}

// Lorebook is a bot's world info (the Character Card "character_book").
type Lorebook struct {
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
	// ScanDepth is how many recent turns are scanned for keys besides the
	// new message (default 4).
	ScanDepth int `json:"scan_depth,omitempty"`
	// TokenBudget caps the lore inserted, in tokens (0: the lore share of
	// the budget).
	TokenBudget       int            `json:"token_budget,omitempty"`
	RecursiveScanning bool           `json:"recursive_scanning,omitempty"`
	Extensions        map[string]any `json:"extensions,omitempty"`
	Entries           []LoreEntry    `json:"entries"`
}

// LoreEntry is one lorebook entry.
type LoreEntry struct {
	// ID identifies the entry within its lorebook (unique, >= 0).
	ID            int      `json:"id"`
	Name          string   `json:"name,omitempty"`
	Comment       string   `json:"comment,omitempty"`
	Keys          []string `json:"keys"`
	SecondaryKeys []string `json:"secondary_keys,omitempty"`
	// Selective makes SecondaryKeys count, combined by SelectiveLogic:
	// "and_any" (default), "and_all", "not_any", "not_all".
	Selective      bool   `json:"selective,omitempty"`
	SelectiveLogic string `json:"selective_logic,omitempty"`
	// Constant entries are always inserted.
	Constant      bool `json:"constant,omitempty"`
	CaseSensitive bool `json:"case_sensitive,omitempty"`
	// InsertionOrder: lower first.
	InsertionOrder int `json:"insertion_order"`
	// Priority decides which entries are dropped first when the lore does
	// not fit (lower first).
	Priority int `json:"priority,omitempty"`
	// Position is "before_char" or "after_char" (empty: after_char, as
	// SillyTavern imports it). A constant entry goes before or after the
	// persona; a triggered one at the start (before the summaries) or the
	// end (after the recalled turns) of the system message that changes
	// from reply to reply.
	Position   string         `json:"position,omitempty"`
	Enabled    bool           `json:"enabled"`
	Content    string         `json:"content"`
	Extensions map[string]any `json:"extensions,omitempty"`
}
