package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/longmem/longmem/bots"
	"github.com/longmem/longmem/memory"
	"github.com/longmem/longmem/retrieval"
)

// The OpenAI-compatible routes: POST /v1/chat/completions and GET
// /v1/models, so that chat apps and the official OpenAI client libraries
// work against longmem unchanged. Their errors are in OpenAI's shape.

// headerConversationID names the conversation of a chat completion; the
// "user" field is the fallback.
const headerConversationID = "X-Conversation-Id"

// ctxOpenAI marks a request whose errors are written in OpenAI's shape.
const ctxOpenAI = "longmem.openai"

// openAIRoute marks the request for OpenAI-shaped errors.
func (s *Server) openAIRoute(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Set(ctxOpenAI, true)
		return next(c)
	}
}

// openAIErrorBody is OpenAI's error document; code and message are
// longmem's, so it is a superset of errorBody.
type openAIErrorBody struct {
	Error openAIError `json:"error"`
}

type openAIError struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    string  `json:"code"`
}

// newOpenAIError is the OpenAI form of a classified error.
func newOpenAIError(err error, status int, code, msg string) openAIErrorBody {
	typ := "api_error"
	switch {
	case status == http.StatusUnauthorized:
		typ = "authentication_error"
	case status == http.StatusNotFound:
		typ = "invalid_request_error"
		var nf *bots.NotFoundError
		if errors.As(err, &nf) && strings.HasPrefix(nf.Message, "model ") {
			code = "model_not_found"
		}
	case status == http.StatusTooManyRequests:
		typ = "rate_limit_error"
	case status < 500:
		typ = "invalid_request_error"
	}
	body := openAIErrorBody{Error: openAIError{Message: msg, Type: typ, Code: code}}
	var ie *memory.InvalidError
	if errors.As(err, &ie) && ie.Field != "" {
		body.Error.Param = &ie.Field
	}
	return body
}

// openAIChatRequest is the part of an OpenAI chat completion request that
// longmem reads; other fields (temperature, tools …) are accepted and
// ignored: the bot decides how its model is called.
type openAIChatRequest struct {
	Model         string          `json:"model"`
	Messages      []openAIMessage `json:"messages"`
	Stream        bool            `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	User string `json:"user"`
}

type openAIMessage struct {
	Role    string          `json:"role"`
	Name    string          `json:"name"`
	Content json.RawMessage `json:"content"`
}

// text is the message's content: a string, or the text parts of an array
// of content parts joined by newlines.
func (m openAIMessage) text(field string) (string, error) {
	raw := bytes.TrimSpace(m.Content)
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", memory.Invalid(field, "invalid string: %v", err)
		}
		return s, nil
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", memory.Invalid(field, "want a string or an array of content parts")
	}
	var texts []string
	for i, p := range parts {
		if p.Type != "text" {
			return "", memory.Invalid(fmt.Sprintf("%s[%d].type", field, i), "only text content parts are supported, got %s", quote(p.Type))
		}
		texts = append(texts, p.Text)
	}
	return strings.Join(texts, "\n"), nil
}

// newMessage is the new turn: the last user message of the request.
func (r *openAIChatRequest) newMessage(maxTurnBytes int) (retrieval.Message, error) {
	for i := len(r.Messages) - 1; i >= 0; i-- {
		m := r.Messages[i]
		if m.Role != string(memory.RoleUser) {
			continue
		}
		field := fmt.Sprintf("messages[%d].content", i)
		text, err := m.text(field)
		if err != nil {
			return retrieval.Message{}, err
		}
		switch {
		case strings.TrimSpace(text) == "":
			return retrieval.Message{}, memory.Invalid(field, "the last user message is empty")
		case len(text) > maxTurnBytes:
			return retrieval.Message{}, tooLarge("%s is %d bytes; the limit is %d", field, len(text), maxTurnBytes)
		case len(m.Name) > maxLabelBytes:
			return retrieval.Message{}, memory.Invalid(fmt.Sprintf("messages[%d].name", i), "is %d bytes; the maximum is %d", len(m.Name), maxLabelBytes)
		}
		return retrieval.Message{Role: string(memory.RoleUser), Name: m.Name, Content: text}, nil
	}
	return retrieval.Message{}, memory.Invalid("messages", "no user message: send the new user message (longmem keeps the conversation)")
}

// conversationID is the conversation a chat completion continues: the
// X-Conversation-Id header, else the "user" field.
func (r *openAIChatRequest) conversationID(c echo.Context) (string, error) {
	if id := c.Request().Header.Get(headerConversationID); id != "" {
		if err := validID(id); err != nil {
			return "", memory.Invalid(headerConversationID, "conversation id %s %v", quote(id), err)
		}
		return id, nil
	}
	if r.User == "" {
		return "", memory.Invalid("user", "is required without an %s header: it names the conversation", headerConversationID)
	}
	if err := validID(r.User); err != nil {
		return "", memory.Invalid("user", "conversation id %s %v", quote(r.User), err)
	}
	return r.User, nil
}

// openAICompletion is a chat.completion (Stream false).
type openAICompletion struct {
	ID      string          `json:"id"`
	Object  string          `json:"object"`
	Created int64           `json:"created"`
	Model   string          `json:"model"`
	Choices []openAIChoice  `json:"choices"`
	Usage   *usageResponse  `json:"usage,omitempty"`
	Longmem *longmemSummary `json:"longmem,omitempty"`
}

type openAIChoice struct {
	Index        int        `json:"index"`
	Message      *openAIOut `json:"message,omitempty"`
	Delta        *openAIOut `json:"delta,omitempty"`
	FinishReason *string    `json:"finish_reason"`
	Logprobs     *struct{}  `json:"logprobs"`
}

type openAIOut struct {
	Role    string  `json:"role,omitempty"`
	Content *string `json:"content,omitempty"`
}

// longmemSummary tells a client which turns were stored (an extension
// field the OpenAI clients ignore).
type longmemSummary struct {
	ConversationID string `json:"conversation_id"`
	UserSeq        int64  `json:"user_seq"`
	ReplySeq       int64  `json:"reply_seq,omitempty"`
	Replayed       bool   `json:"replayed,omitempty"`
}

func completionID(conv string, userSeq int64) string {
	return fmt.Sprintf("chatcmpl-%s-%d", conv, userSeq)
}

func finishReason(r string) *string {
	if r == "" {
		r = "stop"
	}
	return &r
}

// chatCompletions is POST /v1/chat/completions: model names the bot, the
// last user message is the new turn, longmem supplies the memory.
func (s *Server) chatCompletions(c echo.Context) error {
	key, err := idempotencyKey(c)
	if err != nil {
		return err
	}
	var req openAIChatRequest
	if err := decodeJSONWith(c, &req, false, false); err != nil {
		return err
	}
	if req.Model == "" {
		return memory.Invalid("model", "is required: the id or name of a bot (GET /v1/models lists them)")
	}
	msg, err := req.newMessage(s.cfg.MaxTurnBytes)
	if err != nil {
		return err
	}
	chat, err := s.chatLoop()
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	// The model first: an unknown one is a 404 model_not_found whatever
	// else is missing, as OpenAI clients expect.
	bot, err := chat.FindBot(ctx, tenant(c), req.Model)
	if err != nil {
		return err
	}
	convID, err := req.conversationID(c)
	if err != nil {
		return err
	}
	if _, err := chat.OpenConversation(ctx, tenant(c), convID, bot); err != nil {
		return err
	}
	c.Response().Header().Set(headerConversationID, convID)
	creq := bots.ChatRequest{Tenant: tenant(c), ConversationID: convID, Message: msg, IdempotencyKey: key}
	if !req.Stream {
		res, err := chat.Send(ctx, creq)
		if err != nil {
			return err
		}
		u := newUsage(res.Usage)
		content := res.Reply.Content
		return c.JSON(http.StatusOK, openAICompletion{
			ID: completionID(convID, res.UserTurn.Seq), Object: "chat.completion", Created: res.Reply.CreatedAt.Unix(), Model: req.Model,
			Choices: []openAIChoice{{Message: &openAIOut{Role: "assistant", Content: &content}, FinishReason: finishReason(res.FinishReason)}},
			Usage:   &u,
			Longmem: &longmemSummary{ConversationID: convID, UserSeq: res.UserTurn.Seq, ReplySeq: res.Reply.Seq, Replayed: res.Replayed},
		})
	}

	ev := &eventStream{c: c}
	var id string
	var created int64
	chunk := func(choices []openAIChoice, usage *usageResponse) error {
		return ev.send("", openAICompletion{ID: id, Object: "chat.completion.chunk", Created: created, Model: req.Model,
			Choices: choices, Usage: usage})
	}
	// The stream (status 200, the role chunk) begins with the first token,
	// so a failure before it is an error response with its status.
	creq.OnStart = func(user memory.Turn) error {
		id, created = completionID(convID, user.Seq), user.CreatedAt.Unix()
		return nil
	}
	creq.OnDelta = func(content string) error {
		if !ev.started {
			empty := ""
			if err := chunk([]openAIChoice{{Delta: &openAIOut{Role: "assistant", Content: &empty}}}, nil); err != nil {
				return err
			}
		}
		return chunk([]openAIChoice{{Delta: &openAIOut{Content: &content}}}, nil)
	}
	res, err := chat.Send(ctx, creq)
	if err != nil {
		if !ev.started {
			return err
		}
		s.streamFailed(c, err)
		status, code, msg := classify(err)
		_ = ev.send("", newOpenAIError(err, status, code, msg))
		return nil
	}
	if err := chunk([]openAIChoice{{Delta: &openAIOut{}, FinishReason: finishReason(res.FinishReason)}}, nil); err != nil {
		return nil // the client left
	}
	if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
		u := newUsage(res.Usage)
		if err := chunk([]openAIChoice{}, &u); err != nil {
			return nil
		}
	}
	_ = ev.raw("", []byte("[DONE]"))
	return nil
}

// openAIModel is one entry of GET /v1/models: a bot.
type openAIModel struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
	// Name and Version are extensions: the bot's name and latest version.
	Name    string `json:"name"`
	Version int    `json:"version"`
}

type openAIModelList struct {
	Object string        `json:"object"`
	Data   []openAIModel `json:"data"`
}

// listModels is GET /v1/models: the tenant's bots as OpenAI models.
func (s *Server) listModels(c echo.Context) error {
	chat, err := s.chatLoop()
	if err != nil {
		return err
	}
	all, err := chat.ListBots(c.Request().Context(), tenant(c))
	if err != nil {
		return err
	}
	out := openAIModelList{Object: "list", Data: make([]openAIModel, len(all))}
	for i, b := range all {
		out.Data[i] = openAIModel{ID: b.ID, Object: "model", Created: b.CreatedAt.Unix(), OwnedBy: "longmem", Name: b.Name, Version: b.Version}
	}
	return c.JSON(http.StatusOK, out)
}
