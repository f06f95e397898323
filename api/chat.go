package api

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/longmem/longmem/bots"
	"github.com/longmem/longmem/bots/llm"
	"github.com/longmem/longmem/memory"
	"github.com/longmem/longmem/retrieval"
)

// Appended tells the background parts (indexer, compactor) that
// conversation id of tenant grew to lastSeq. The chat loop calls it
// (bots.ChatDeps.OnAppend); it never blocks.
func (s *Server) Appended(tenant, id string, lastSeq int64) {
	s.appended(tenant, id, []memory.Turn{{Seq: lastSeq}})
}

// chatRequest is the body of POST /v1/conversations/{id}/chat.
type chatRequest struct {
	Message      messageRequest `json:"message"`
	Stream       bool           `json:"stream,omitempty"`
	BudgetTokens *int           `json:"budget_tokens,omitempty"`
}

func (r *chatRequest) validate(maxTurnBytes int) error {
	switch {
	case r.Message.Role != "" && r.Message.Role != string(memory.RoleUser):
		return memory.Invalid("message.role", "must be %q (the reply is the assistant's), got %s", memory.RoleUser, quote(r.Message.Role))
	case strings.TrimSpace(r.Message.Content) == "":
		return memory.Invalid("message.content", "is required and must not be empty")
	case len(r.Message.Content) > maxTurnBytes:
		return tooLarge("message.content is %d bytes; the limit is %d", len(r.Message.Content), maxTurnBytes)
	case len(r.Message.Name) > maxLabelBytes:
		return memory.Invalid("message.name", "is %d bytes; the maximum is %d", len(r.Message.Name), maxLabelBytes)
	case r.BudgetTokens != nil && *r.BudgetTokens < 1:
		return memory.Invalid("budget_tokens", "must be a positive number of tokens, got %d", *r.BudgetTokens)
	}
	return nil
}

// usageResponse is the backend's token count of a reply.
type usageResponse struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

func newUsage(u llm.Usage) usageResponse {
	return usageResponse{PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens, TotalTokens: u.TotalTokens}
}

// chatResponse is an answered chat message (and the final "done" event of
// a streamed one). Report is null when the reply was replayed.
type chatResponse struct {
	Reply        turnResponse      `json:"reply"`
	UserTurn     turnResponse      `json:"user_turn"`
	Usage        usageResponse     `json:"usage"`
	Report       *retrieval.Report `json:"report"`
	Model        string            `json:"model"`
	FinishReason string            `json:"finish_reason"`
	Replayed     bool              `json:"replayed"`
}

func newChatResponse(r bots.ChatResult) chatResponse {
	return chatResponse{Reply: newTurnResponse(r.Reply), UserTurn: newTurnResponse(r.UserTurn), Usage: newUsage(r.Usage),
		Report: r.Report, Model: r.Model, FinishReason: r.FinishReason, Replayed: r.Replayed}
}

// chatLoop is the server's chat loop, or a 501 when it has none.
func (s *Server) chatLoop() (*bots.Chat, error) {
	if s.deps.Chat == nil {
		return nil, echo.NewHTTPError(http.StatusNotImplemented, "chat is not configured in this server")
	}
	return s.deps.Chat, nil
}

// idempotencyKey is the request's Idempotency-Key header ("" when absent).
func idempotencyKey(c echo.Context) (string, error) {
	key := c.Request().Header.Get(headerIdempotencyKey)
	if key != "" && !printableASCII(key, maxIdempotencyKeyLen) {
		return "", memory.Invalid(headerIdempotencyKey, "must be 1 to %d visible ASCII characters", maxIdempotencyKeyLen)
	}
	return key, nil
}

// chat answers a user message in a conversation: the user turn and the
// reply are stored; with "stream": true the reply comes as Server-Sent
// Events (delta …, then done or error). The stream (status 200) begins
// with the first token: a failure before it — the backend refusing, timing
// out, sending nothing — is a plain JSON error with its status (502, 504
// …); only a failure after it is an error event.
func (s *Server) chat(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	key, err := idempotencyKey(c)
	if err != nil {
		return err
	}
	var req chatRequest
	if err := decodeJSON(c, &req, false); err != nil {
		return err
	}
	if err := req.validate(s.cfg.MaxTurnBytes); err != nil {
		return err
	}
	chat, err := s.chatLoop()
	if err != nil {
		return err
	}
	creq := bots.ChatRequest{
		Tenant: tenant(c), ConversationID: id, IdempotencyKey: key,
		Message: retrieval.Message{Role: string(memory.RoleUser), Name: req.Message.Name, Content: req.Message.Content},
	}
	if req.BudgetTokens != nil {
		creq.BudgetTokens = *req.BudgetTokens
	}
	if !req.Stream {
		res, err := chat.Send(c.Request().Context(), creq)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, newChatResponse(res))
	}
	ev := &eventStream{c: c}
	creq.OnDelta = func(content string) error { return ev.send("delta", map[string]string{"content": content}) }
	res, err := chat.Send(c.Request().Context(), creq)
	if err != nil {
		if !ev.started {
			return err // nothing sent yet: a plain JSON error
		}
		s.streamFailed(c, err)
		_, code, msg := classify(err)
		// An error writing the last event means the client left; there
		// is nobody to tell.
		_ = ev.send("error", errorBody{Error: errorDetail{Code: code, Message: msg}})
		return nil
	}
	_ = ev.send("done", newChatResponse(res))
	return nil
}

// streamFailed logs an error that ends an event stream (the status is
// already 200, so the error handler does not see it).
func (s *Server) streamFailed(c echo.Context, err error) {
	status, _, _ := classify(err)
	level := slog.LevelWarn
	if status == http.StatusInternalServerError {
		level = slog.LevelError
	}
	s.deps.Logger.LogAttrs(c.Request().Context(), level, "stream failed",
		slog.String("request_id", requestID(c)), slog.String("route", c.Path()),
		slog.Int("status", status), slog.Any("error", err))
}

// eventStream writes Server-Sent Events to the response, starting it
// (status 200, text/event-stream) on first use.
type eventStream struct {
	c       echo.Context
	started bool
}

func (e *eventStream) start() error {
	if e.started {
		return nil
	}
	e.started = true
	h := e.c.Response().Header()
	h.Set(echo.HeaderContentType, "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	e.c.Response().WriteHeader(http.StatusOK)
	e.c.Response().Flush()
	return nil
}

// send writes one event: "event: NAME" (unless name is empty) and v as
// JSON on one data line.
func (e *eventStream) send(name string, v any) error {
	if err := e.start(); err != nil {
		return err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return e.raw(name, b)
}

func (e *eventStream) raw(name string, data []byte) error {
	w := e.c.Response()
	var err error
	if name != "" {
		_, err = fmt.Fprintf(w, "event: %s\n", name)
	}
	if err == nil {
		_, err = fmt.Fprintf(w, "data: %s\n\n", data)
	}
	if err != nil {
		return fmt.Errorf("api: write event: %w", err)
	}
	w.Flush()
	return nil
}
