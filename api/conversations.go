package api

import (
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/longmem/longmem/bots"
	"github.com/longmem/longmem/memory"
)

// maxLabelBytes bounds bot_id, user_id and a turn's name.
const maxLabelBytes = 256

// createConversationRequest is the body of POST /v1/conversations.
type createConversationRequest struct {
	ID    string `json:"id"`
	BotID string `json:"bot_id"`
	// BotVersion pins the conversation to one version of the bot; 0 or
	// absent follows the latest.
	BotVersion int            `json:"bot_version"`
	UserID     string         `json:"user_id"`
	Metadata   map[string]any `json:"metadata"`
}

func (r *createConversationRequest) validate() error {
	if r.ID != "" {
		if err := validID(r.ID); err != nil {
			return memory.Invalid("id", "conversation id %s %v", quote(r.ID), err)
		}
	}
	if len(r.BotID) > maxLabelBytes {
		return memory.Invalid("bot_id", "is %d bytes; the maximum is %d", len(r.BotID), maxLabelBytes)
	}
	if r.BotVersion < 0 {
		return memory.Invalid("bot_version", "must be 0 (follow the latest) or a version >= 1, got %d", r.BotVersion)
	}
	if r.BotVersion > 0 && r.BotID == "" {
		return memory.Invalid("bot_version", "needs a bot_id")
	}
	if len(r.UserID) > maxLabelBytes {
		return memory.Invalid("user_id", "is %d bytes; the maximum is %d", len(r.UserID), maxLabelBytes)
	}
	return nil
}

// conversationResponse is a conversation as the API shows it.
type conversationResponse struct {
	ID     string `json:"id"`
	Tenant string `json:"tenant"`
	BotID  string `json:"bot_id"`
	// BotVersion is the pinned bot version; 0 follows the latest.
	BotVersion int            `json:"bot_version"`
	UserID     string         `json:"user_id"`
	CreatedAt  time.Time      `json:"created_at"`
	Metadata   map[string]any `json:"metadata"`
	// LastSeq is the highest seq ever assigned (0: no turns yet).
	LastSeq int64 `json:"last_seq"`
}

func newConversationResponse(c memory.Conversation) conversationResponse {
	md := c.Metadata
	if md == nil {
		md = map[string]any{}
	}
	return conversationResponse{
		ID: c.ID, Tenant: c.Tenant, BotID: c.BotID, BotVersion: c.BotVersion, UserID: c.UserID,
		CreatedAt: c.CreatedAt, Metadata: md, LastSeq: c.LastSeq,
	}
}

// listConversationsResponse is a page of conversations in ascending id
// order; Next, when not null, is the after= cursor of the next page.
type listConversationsResponse struct {
	Conversations []conversationResponse `json:"conversations"`
	Next          *string                `json:"next"`
}

func (s *Server) createConversation(c echo.Context) error {
	var req createConversationRequest
	if err := decodeJSON(c, &req, true); err != nil {
		return err
	}
	if err := req.validate(); err != nil {
		return err
	}
	id := req.ID
	if id == "" {
		id = newID(s.deps.Clock())
	}
	ctx := c.Request().Context()
	// With bots, bot_id must name one (and bot_version one of its
	// versions); without, it is a plain label.
	var bot *bots.Bot
	if s.deps.Chat != nil {
		var err error
		if bot, err = s.deps.Chat.BotFor(ctx, tenant(c), req.BotID, req.BotVersion); err != nil {
			return err
		}
	}
	conv, err := s.store.CreateConversation(ctx, memory.Conversation{
		ID: id, Tenant: tenant(c), BotID: req.BotID, BotVersion: req.BotVersion, UserID: req.UserID, Metadata: req.Metadata,
	})
	if err != nil {
		return conversationErr(err, id)
	}
	if bot != nil {
		// The bot's first message opens the conversation.
		greeting, err := s.deps.Chat.Greet(ctx, conv, bot)
		if err != nil {
			return fmt.Errorf("conversation %q created, but storing the bot's first message failed: %w", id, err)
		}
		if greeting != nil {
			conv.LastSeq = greeting.Seq
		}
	}
	return c.JSON(http.StatusCreated, newConversationResponse(conv))
}

func (s *Server) getConversation(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	conv, err := s.store.GetConversation(c.Request().Context(), tenant(c), id)
	if err != nil {
		return conversationErr(err, id)
	}
	return c.JSON(http.StatusOK, newConversationResponse(conv))
}

func (s *Server) listConversations(c echo.Context) error {
	limit, err := limitQuery(c)
	if err != nil {
		return err
	}
	after := c.QueryParam("after")
	if after != "" {
		if err := validID(after); err != nil {
			return memory.Invalid("after", "cursor %s %v", quote(after), err)
		}
	}
	userID, err := textQuery(c, "user_id", maxLabelBytes)
	if err != nil {
		return err
	}
	botID, err := textQuery(c, "bot_id", maxLabelBytes)
	if err != nil {
		return err
	}
	// Ask for one more than the page when the store allows it, so that
	// "next" is null exactly when nothing follows.
	fetch := limit
	if fetch < memory.MaxListLimit {
		fetch++
	}
	convs, err := s.store.ListConversations(c.Request().Context(), memory.ListOptions{
		Tenant: tenant(c), UserID: userID, BotID: botID, After: after, Limit: fetch,
	})
	if err != nil {
		return err
	}
	resp := listConversationsResponse{Conversations: make([]conversationResponse, 0, min(len(convs), limit))}
	if len(convs) > limit || (fetch == limit && len(convs) == limit) {
		convs = convs[:limit]
		next := convs[limit-1].ID
		resp.Next = &next
	}
	for _, conv := range convs {
		resp.Conversations = append(resp.Conversations, newConversationResponse(conv))
	}
	return c.JSON(http.StatusOK, resp)
}

func (s *Server) deleteConversation(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	if err := s.store.DeleteConversation(c.Request().Context(), tenant(c), id); err != nil {
		return conversationErr(err, id)
	}
	if err := s.deps.Indexer.Drop(c.Request().Context(), tenant(c), id); err != nil {
		s.deps.Logger.Warn("conversation deleted but its index entries were not", "conversation", id, "err", err)
	}
	return c.NoContent(http.StatusNoContent)
}
