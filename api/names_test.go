package api

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/bots/llm"
	"github.com/longmem/longmem/bots/llm/llmtest"
)

// A name two bots share is a 409 listing their ids, never a silent pick;
// a unique name, or an id, still works.
func TestChatCompletionsAmbiguousName(t *testing.T) {
	e := newChatEnv(t, llmtest.Reply(testUsage, "Aye."), llm.Config{})
	e.putBot(mira)
	twin := mira
	twin.ID = "mira-2"
	e.putBot(twin)
	lower := mira
	lower.ID, lower.Name = "sol", "sol"
	e.putBot(lower)

	for _, model := range []string{"Mira", "MIRA"} {
		r := e.must(http.StatusConflict, "POST", "/v1/chat/completions",
			`{"model":`+jsonQuote(model)+`,"messages":[{"role":"user","content":"hi"}],"user":"c1"}`)
		var body struct {
			Error map[string]any `json:"error"`
		}
		require.NoError(t, json.Unmarshal(r.body, &body))
		require.Equal(t, "conflict", body.Error["code"])
		require.Contains(t, body.Error["message"], `"mira", "mira-2"`)
	}
	require.Zero(t, e.backend.Calls())
	e.must(http.StatusNotFound, "GET", "/v1/conversations/c1", "")

	// An id is never ambiguous; a name of one bot (any case) is not either.
	e.must(http.StatusOK, "POST", "/v1/chat/completions", `{"model":"mira-2","messages":[{"role":"user","content":"hi"}],"user":"c2"}`)
	e.must(http.StatusOK, "POST", "/v1/chat/completions", `{"model":"SOL","messages":[{"role":"user","content":"hi"}],"user":"c3"}`)
}

func jsonQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// The editor's token counts: the persona and its fields, each lore entry,
// against the shares of the bot's own budget.
func TestBotTokens(t *testing.T) {
	e := newChatEnv(t, llmtest.Reply(testUsage, "x"), llm.Config{})
	body := `{"name":"Mira","description":"{{char}} keeps the lighthouse and talks to {{user}} about ships.","personality":"calm",
		"post_history_instructions":"Stay brief.","model":{"context_window":4096,"max_output_tokens":96},"memory":{"lore_share":0.2},
		"lorebook":{"token_budget":50,"entries":[{"id":4,"keys":["storm"],"content":"Storms come from the west.","enabled":true},
		{"id":9,"constant":true,"content":"@@depth 2\nThe lamp is electric now.","enabled":true}]}}`
	var got struct {
		BudgetTokens int `json:"budget_tokens"`
		Persona      struct {
			Tokens          int            `json:"tokens"`
			Fields          map[string]int `json:"fields"`
			Share           float64        `json:"share"`
			ShareIsDefault  bool           `json:"share_is_default"`
			MaxTokens       int            `json:"max_tokens"`
			MinBudgetTokens int            `json:"min_budget_tokens"`
		} `json:"persona"`
		Lore struct {
			Entries   []struct{ ID, Tokens int } `json:"entries"`
			Constant  int                        `json:"constant_tokens"`
			Share     float64                    `json:"share"`
			MaxTokens int                        `json:"max_tokens"`
		} `json:"lore"`
	}
	r := e.must(http.StatusOK, "POST", "/v1/bots/tokens?user=Ana", body)
	require.NoError(t, json.Unmarshal(r.body, &got))
	require.Equal(t, 4000, got.BudgetTokens, "the window less the max output")
	require.Equal(t, tok.Count("Mira keeps the lighthouse and talks to Ana about ships."), got.Persona.Fields["description"])
	require.Equal(t, tok.Count("calm"), got.Persona.Fields["personality"])
	require.NotContains(t, got.Persona.Fields, "scenario")
	require.Equal(t, tok.Count("Character: Mira\nMira keeps the lighthouse and talks to Ana about ships.\n\nPersonality:\ncalm")+tok.Count("Stay brief."), got.Persona.Tokens)
	require.Equal(t, 0.5, got.Persona.Share)
	require.True(t, got.Persona.ShareIsDefault)
	require.Equal(t, 2000, got.Persona.MaxTokens)
	require.Equal(t, 2*got.Persona.Tokens+1, got.Persona.MinBudgetTokens)
	require.Len(t, got.Lore.Entries, 2)
	require.Equal(t, tok.Count("Storms come from the west."), got.Lore.Entries[0].Tokens)
	require.Equal(t, tok.Count("The lamp is electric now."), got.Lore.Constant, "decorators are not sent")
	require.Equal(t, 0.2, got.Lore.Share)
	require.Equal(t, 50, got.Lore.MaxTokens, "the lorebook's token_budget caps 0.2 × 4000")

	e.must(http.StatusBadRequest, "POST", "/v1/bots/tokens", `{"name":5}`)
}
