package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/longmem/longmem/memory"
	"github.com/longmem/longmem/retrieval"
)

// contextRequest is the body of POST /v1/conversations/{id}/context.
type contextRequest struct {
	Message       messageRequest `json:"message"`
	BudgetTokens  *int           `json:"budget_tokens"`
	ExcludeRecent bool           `json:"exclude_recent,omitempty"`
	// NoSummaries leaves the long-term memory section out (to compare a
	// deployment with and without summaries).
	NoSummaries bool `json:"no_summaries,omitempty"`
	// BotID and BotVersion preview the context with that bot's persona
	// and budget policy (the conversation's own bot is not implied);
	// budget_tokens then defaults to the bot's.
	BotID      string `json:"bot_id,omitempty"`
	BotVersion int    `json:"bot_version,omitempty"`
}

// messageRequest is the new message a context is assembled for. It is not
// stored by the context call.
type messageRequest struct {
	Role    string `json:"role"`
	Name    string `json:"name,omitempty"`
	Content string `json:"content"`
}

func (r *contextRequest) validate(maxTurnBytes int) error {
	switch {
	case r.BotVersion < 0:
		return memory.Invalid("bot_version", "must be 0 (the latest) or a version >= 1, got %d", r.BotVersion)
	case r.BotVersion > 0 && r.BotID == "":
		return memory.Invalid("bot_version", "needs a bot_id")
	case r.BudgetTokens == nil && r.BotID == "":
		return memory.Invalid("budget_tokens", "is required: the most tokens the messages may take")
	case r.Message.Content == "":
		return memory.Invalid("message.content", "is required and must not be empty")
	case len(r.Message.Content) > maxTurnBytes:
		return tooLarge("message.content is %d bytes; the limit is %d", len(r.Message.Content), maxTurnBytes)
	case r.Message.Role != "" && !memory.Role(r.Message.Role).Valid():
		return memory.Invalid("message.role", "unknown role %s (want user, assistant, system or tool)", quote(r.Message.Role))
	}
	return nil
}

// assembleContext builds the prompt for a reply to the given message within
// the budget, with the report of what went in and why.
func (s *Server) assembleContext(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	var req contextRequest
	if err := decodeJSON(c, &req, false); err != nil {
		return err
	}
	if err := req.validate(s.cfg.MaxTurnBytes); err != nil {
		return err
	}
	areq := retrieval.Request{
		Tenant: tenant(c), ConversationID: id, ExcludeRecent: req.ExcludeRecent, NoSummaries: req.NoSummaries,
		Message: retrieval.Message{Role: req.Message.Role, Name: req.Message.Name, Content: req.Message.Content},
	}
	if req.BudgetTokens != nil {
		areq.BudgetTokens = *req.BudgetTokens
	}
	if req.BotID != "" {
		chat, err := s.chatLoop()
		if err != nil {
			return err
		}
		bot, err := chat.Bot(c.Request().Context(), tenant(c), req.BotID, req.BotVersion)
		if err != nil {
			return err
		}
		// {{user}} as the chat loop has it: fixed per conversation (its
		// user_name, user_id, or first user turn's name), the message's name
		// only for a conversation that has none yet.
		conv, err := s.store.GetConversation(c.Request().Context(), tenant(c), id)
		if err != nil {
			return conversationErr(err, id)
		}
		user, err := chat.UserFor(c.Request().Context(), conv, req.Message.Name)
		if err != nil {
			return err
		}
		p := chat.PromptFor(bot, user)
		areq.Persona, areq.Policy, areq.NoSummaries = p.Persona, p.Policy, p.NoSummaries
		areq.Lore, areq.LoreScanDepth, areq.PostHistory = p.Lore, p.LoreScanDepth, p.PostHistory
		if req.BudgetTokens == nil {
			areq.BudgetTokens = p.BudgetTokens
		}
	}
	out, err := s.deps.Assembler.Assemble(c.Request().Context(), areq)
	if err != nil {
		return conversationErr(err, id)
	}
	if s.deps.Compactor != nil {
		// A context call is a cheap moment to catch up on summaries the
		// conversation may owe (after a restart, say); it never waits.
		s.deps.Compactor.Trigger(tenant(c), id)
	}
	return c.JSON(http.StatusOK, out)
}
