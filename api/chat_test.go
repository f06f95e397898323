package api

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/bots"
	"github.com/longmem/longmem/bots/embeddedbots"
	"github.com/longmem/longmem/bots/llm"
	"github.com/longmem/longmem/bots/llm/llmtest"
	"github.com/longmem/longmem/memory/embedded"
)

// chatEnv is a server with the chat loop over a fake backend and a real
// embedded bots store.
type chatEnv struct {
	*env
	backend *llmtest.Server
	bots    *embeddedbots.Store
}

func newChatEnv(t *testing.T, handle llmtest.Handler, cfg llm.Config) *chatEnv {
	t.Helper()
	store, err := embedded.Open(embedded.Config{Dir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, store.Close()) })
	bs, err := embeddedbots.Open(embeddedbots.Config{Dir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, bs.Close()) })

	ce := &chatEnv{bots: bs}
	ce.backend = llmtest.New(t, handle)
	cfg.BaseURL = ce.backend.URL
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = -1
	}
	transport := &http.Transport{}
	t.Cleanup(transport.CloseIdleConnections)
	backends, err := bots.NewBackends(cfg, &http.Client{Transport: transport})
	require.NoError(t, err)

	deps := recallDeps(t, Deps{Store: store, Tokenizer: tok, Registerer: prometheus.NewRegistry()})
	var srv *Server
	chat, err := bots.NewChat(bots.ChatConfig{}, bots.ChatDeps{
		Store: store, Bots: bs, Assembler: deps.Assembler, Tokenizer: tok, Backends: backends,
		OnAppend: func(tenant, id string, seq int64) { srv.Appended(tenant, id, seq) },
	})
	require.NoError(t, err)
	deps.Chat = chat
	srv, err = New(Config{}, deps)
	require.NoError(t, err)
	ce.env = &env{t: t, srv: srv, store: store}
	return ce
}

func (e *chatEnv) putBot(b bots.Bot) bots.Bot {
	e.t.Helper()
	b, err := e.bots.Create(context.Background(), "", b, "test")
	require.NoError(e.t, err)
	return b
}

var testUsage = llmtest.Usage{PromptTokens: 50, CompletionTokens: 4, TotalTokens: 54}

var mira = bots.Bot{ID: "mira", Name: "Mira", Description: "{{char}} is a lighthouse keeper who talks to {{user}} about the sea.",
	FirstMessage: "Ahoy, {{user}}! I'm {{char}}.", Model: bots.ModelConfig{Model: "moe-a13b", ContextWindow: 4096, MaxOutputTokens: 300}}

// sseEvent is one parsed Server-Sent Event.
type sseEvent struct {
	name, data string
}

// parseSSE splits an event stream into events.
func parseSSE(t *testing.T, body []byte) []sseEvent {
	t.Helper()
	var out []sseEvent
	var cur sseEvent
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if cur.data != "" || cur.name != "" {
				out = append(out, cur)
			}
			cur = sseEvent{}
		case strings.HasPrefix(line, "event: "):
			cur.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			cur.data += strings.TrimPrefix(line, "data: ")
		default:
			t.Fatalf("unexpected line %q", line)
		}
	}
	require.Empty(t, cur, "the stream ends with a complete event")
	return out
}

func TestChatPlain(t *testing.T) {
	e := newChatEnv(t, llmtest.Reply(testUsage, "The sea ", "is calm tonight."), llm.Config{})
	e.putBot(mira)
	conv := e.must(http.StatusCreated, "POST", "/v1/conversations", `{"id":"c1","bot_id":"mira","user_id":"ana"}`).json(t)
	require.EqualValues(t, 1, conv["last_seq"], "the first message is stored at creation")
	require.EqualValues(t, 0, conv["bot_version"])
	first := e.turnList("c1")
	require.Len(t, first, 1)
	require.Equal(t, "Ahoy, ana! I'm Mira.", first[0].Content, "{{user}} is the conversation's user_id")
	require.Equal(t, "Mira", first[0].Name)

	r := e.must(http.StatusOK, "POST", "/v1/conversations/c1/chat",
		`{"message":{"role":"user","name":"Ana","content":"How is the sea?"}}`, "Idempotency-Key: k1")
	var got chatResponse
	require.NoError(t, json.Unmarshal(r.body, &got))
	require.Equal(t, int64(2), got.UserTurn.Seq)
	require.Equal(t, "How is the sea?", got.UserTurn.Content)
	require.Equal(t, int64(3), got.Reply.Seq)
	require.Equal(t, "The sea is calm tonight.", got.Reply.Content)
	require.Equal(t, "Mira", got.Reply.Name)
	require.Equal(t, usageResponse{PromptTokens: 50, CompletionTokens: 4, TotalTokens: 54}, got.Usage)
	require.EqualValues(t, 2, got.Reply.Metadata["reply_to"])
	require.NotNil(t, got.Report)
	require.Equal(t, 4096-300, got.Report.BudgetTokens)
	require.False(t, got.Replayed)

	req := e.backend.Requests()[0]
	require.Equal(t, "c1", req.User, "the conversation id is the OpenAI user")
	require.Equal(t, "moe-a13b", req.Model)
	require.Contains(t, req.Messages[0].Content, "Mira is a lighthouse keeper who talks to ana about the sea.", "{{user}} is the conversation's user_id, as in its first message, whatever the message's name")
	require.Equal(t, "Ahoy, ana! I'm Mira.", req.Messages[1].Content, "the first message is history")
	require.Equal(t, "How is the sea?", req.Messages[len(req.Messages)-1].Content)

	// The retry returns the stored reply without a backend call.
	r = e.must(http.StatusOK, "POST", "/v1/conversations/c1/chat",
		`{"message":{"role":"user","name":"Ana","content":"How is the sea?"}}`, "Idempotency-Key: k1")
	var again chatResponse
	require.NoError(t, json.Unmarshal(r.body, &again))
	require.True(t, again.Replayed)
	require.Equal(t, got.Reply, again.Reply)
	require.Equal(t, got.Usage, again.Usage)
	require.Nil(t, again.Report)
	require.Equal(t, 1, e.backend.Calls())
	require.Len(t, e.turnList("c1"), 3)
}

func TestChatWithoutBot(t *testing.T) {
	e := newChatEnv(t, llmtest.Reply(testUsage, "hello"), llm.Config{Model: "default-model"})
	e.createConversation("plain")
	r := e.must(http.StatusOK, "POST", "/v1/conversations/plain/chat", `{"message":{"content":"hi"},"budget_tokens":500}`)
	var got chatResponse
	require.NoError(t, json.Unmarshal(r.body, &got))
	require.Equal(t, "hello", got.Reply.Content)
	require.Equal(t, "", got.Reply.Name)
	require.Equal(t, 500, got.Report.BudgetTokens)
	req := e.backend.Requests()[0]
	require.Equal(t, "default-model", req.Model)
	require.Len(t, req.Messages, 1, "no persona")
}

func TestChatStream(t *testing.T) {
	e := newChatEnv(t, llmtest.Reply(testUsage, "Waves ", "and ", "gulls."), llm.Config{})
	e.createConversation("c")
	r := e.must(http.StatusOK, "POST", "/v1/conversations/c/chat", `{"message":{"content":"What do you hear?"},"stream":true}`)
	require.True(t, strings.HasPrefix(r.header.Get("Content-Type"), "text/event-stream"))
	evs := parseSSE(t, r.body)
	require.Len(t, evs, 4)
	var deltas []string
	for _, ev := range evs[:3] {
		require.Equal(t, "delta", ev.name)
		var d map[string]string
		require.NoError(t, json.Unmarshal([]byte(ev.data), &d))
		deltas = append(deltas, d["content"])
	}
	require.Equal(t, []string{"Waves ", "and ", "gulls."}, deltas)
	require.Equal(t, "done", evs[3].name)
	var done chatResponse
	require.NoError(t, json.Unmarshal([]byte(evs[3].data), &done))
	require.Equal(t, "Waves and gulls.", done.Reply.Content)
	require.Equal(t, int64(1), done.UserTurn.Seq)
	require.Equal(t, 54, done.Usage.TotalTokens)
	require.True(t, e.backend.Requests()[0].Stream)
	require.Len(t, e.turnList("c"), 2)
}

// failFirst answers 500 to the first request, then replies.
func failFirst(w http.ResponseWriter, r *http.Request, req llmtest.Request, n int) {
	if n == 1 {
		llmtest.WriteError(w, http.StatusInternalServerError, "expert shard unavailable")
		return
	}
	llmtest.Reply(testUsage, "Back again.")(w, r, req, n)
}

func TestChatBackendErrorThenRetry(t *testing.T) {
	e := newChatEnv(t, failFirst, llm.Config{})
	e.createConversation("c")
	body := `{"message":{"content":"still there?"}}`
	r := e.must(http.StatusBadGateway, "POST", "/v1/conversations/c/chat", body, "Idempotency-Key: k9")
	code, msg := r.errorCode(t)
	require.Equal(t, "backend_error", code)
	require.Contains(t, msg, e.backend.URL, "names the backend")
	require.Contains(t, msg, "expert shard unavailable")
	turns := e.turnList("c")
	require.Len(t, turns, 1, "the user turn is stored")

	r = e.must(http.StatusOK, "POST", "/v1/conversations/c/chat", body, "Idempotency-Key: k9")
	var got chatResponse
	require.NoError(t, json.Unmarshal(r.body, &got))
	require.Equal(t, "Back again.", got.Reply.Content)
	require.Equal(t, int64(1), got.UserTurn.Seq)
	turns = e.turnList("c")
	require.Len(t, turns, 2, "the user turn was stored once")
	require.Equal(t, "still there?", turns[0].Content)
	require.Equal(t, "Back again.", turns[1].Content)
}

func TestChatBackendTimeout(t *testing.T) {
	var e *chatEnv
	e = newChatEnv(t, func(w http.ResponseWriter, r *http.Request, _ llmtest.Request, _ int) {
		e.backend.Hang(r)
	}, llm.Config{Timeout: 100 * time.Millisecond})
	e.createConversation("c")
	r := e.must(http.StatusGatewayTimeout, "POST", "/v1/conversations/c/chat", `{"message":{"content":"hello?"}}`)
	code, msg := r.errorCode(t)
	require.Equal(t, "backend_timeout", code)
	require.Contains(t, msg, e.backend.URL)
	require.Len(t, e.turnList("c"), 1)
}

func TestChatStreamBreaks(t *testing.T) {
	e := newChatEnv(t, func(w http.ResponseWriter, _ *http.Request, _ llmtest.Request, _ int) {
		llmtest.StartStream(w)
		llmtest.WriteChunk(w, "Once upon")
	}, llm.Config{})
	e.createConversation("c")
	r := e.must(http.StatusOK, "POST", "/v1/conversations/c/chat", `{"message":{"content":"a story"},"stream":true}`, "Idempotency-Key: s1")
	evs := parseSSE(t, r.body)
	require.Len(t, evs, 2)
	require.Equal(t, "delta", evs[0].name)
	require.Equal(t, "error", evs[1].name)
	var eb errorBody
	require.NoError(t, json.Unmarshal([]byte(evs[1].data), &eb))
	require.Equal(t, "backend_error", eb.Error.Code)
	require.Contains(t, eb.Error.Message, e.backend.URL)
	turns := e.turnList("c")
	require.Len(t, turns, 1, "the user turn stays; no partial reply")
}

func TestChatRejects(t *testing.T) {
	e := newChatEnv(t, llmtest.Reply(testUsage, "x"), llm.Config{})
	e.createConversation("c")
	for _, tc := range []struct {
		name, path, body string
		status           int
		field            string
	}{
		{"no content", "/v1/conversations/c/chat", `{"message":{"role":"user"}}`, 400, "message.content"},
		{"assistant role", "/v1/conversations/c/chat", `{"message":{"role":"assistant","content":"x"}}`, 400, "message.role"},
		{"zero budget", "/v1/conversations/c/chat", `{"message":{"content":"x"},"budget_tokens":0}`, 400, "budget_tokens"},
		{"unknown field", "/v1/conversations/c/chat", `{"message":{"content":"x"},"temperature":1}`, 400, "temperature"},
		{"no conversation", "/v1/conversations/nope/chat", `{"message":{"content":"x"}}`, 404, `conversation "nope"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.must(tc.status, "POST", tc.path, tc.body)
			_, msg := r.errorCode(t)
			require.Contains(t, msg, tc.field)
		})
	}
	require.Empty(t, e.turnList("c"))
	require.Zero(t, e.backend.Calls())

	// With bots, bot_id must name one; nothing is created otherwise.
	r := e.must(http.StatusNotFound, "POST", "/v1/conversations", `{"id":"x","bot_id":"ghost"}`)
	_, msg := r.errorCode(t)
	require.Contains(t, msg, `bot "ghost" not found`)
	e.must(http.StatusNotFound, "GET", "/v1/conversations/x", "")
	e.must(http.StatusBadRequest, "POST", "/v1/conversations", `{"id":"x","bot_version":2}`)
}

func TestChatPinnedConversation(t *testing.T) {
	e := newChatEnv(t, llmtest.Reply(testUsage, "ok"), llm.Config{})
	e.putBot(mira)
	v2 := mira
	v2.Description = "{{char}} now runs a bakery."
	_, err := e.bots.Update(context.Background(), "", v2, 0, "test")
	require.NoError(t, err)
	got := e.must(http.StatusCreated, "POST", "/v1/conversations", `{"id":"pinned","bot_id":"mira","bot_version":1}`).json(t)
	require.EqualValues(t, 1, got["bot_version"])
	require.EqualValues(t, 1, e.must(http.StatusOK, "GET", "/v1/conversations/pinned", "").json(t)["bot_version"])
	e.must(http.StatusOK, "POST", "/v1/conversations/pinned/chat", `{"message":{"content":"hi"}}`)
	require.Contains(t, e.backend.Requests()[0].Messages[0].Content, "lighthouse")
	e.must(http.StatusNotFound, "POST", "/v1/conversations", `{"id":"v9","bot_id":"mira","bot_version":9}`)
}

func TestContextPreviewWithBot(t *testing.T) {
	e := newChatEnv(t, llmtest.Reply(testUsage, "ok"), llm.Config{})
	e.putBot(mira)
	// A conversation with no user yet: the message's name is who {{user}}
	// will be, as in the chat loop.
	e.createConversation("c")
	r := e.must(http.StatusOK, "POST", "/v1/conversations/c/context",
		`{"message":{"name":"Ana","content":"what about the lamp?"},"bot_id":"mira"}`)
	var out struct {
		Messages []struct{ Role, Content string } `json:"messages"`
		Report   struct {
			BudgetTokens int `json:"budget_tokens"`
		} `json:"report"`
	}
	require.NoError(t, json.Unmarshal(r.body, &out))
	require.Equal(t, "system", out.Messages[0].Role)
	require.True(t, strings.HasPrefix(out.Messages[0].Content, "Character: Mira\nMira is a lighthouse keeper who talks to Ana"))
	require.Equal(t, 4096-300, out.Report.BudgetTokens, "the bot's budget by default")
	// Once the conversation has a user, the preview shows that user, as
	// chat does, whatever the message's name: the prompt prefix is fixed.
	e.must(http.StatusCreated, "POST", "/v1/conversations", `{"id":"c2","user_id":"bea"}`)
	e.appendContents("c2", "the lamp needs oil")
	r = e.must(http.StatusOK, "POST", "/v1/conversations/c2/context",
		`{"message":{"name":"Ana","content":"what about the lamp?"},"bot_id":"mira"}`)
	require.NoError(t, json.Unmarshal(r.body, &out))
	require.True(t, strings.HasPrefix(out.Messages[0].Content, "Character: Mira\nMira is a lighthouse keeper who talks to bea"), out.Messages[0].Content)
	e.must(http.StatusNotFound, "POST", "/v1/conversations/c/context", `{"message":{"content":"x"},"bot_id":"ghost"}`)
	e.must(http.StatusBadRequest, "POST", "/v1/conversations/c/context", `{"message":{"content":"x"}}`)
	require.Zero(t, e.backend.Calls())
}

func TestChatCompletionsPlain(t *testing.T) {
	e := newChatEnv(t, llmtest.Reply(testUsage, "Fair winds."), llm.Config{})
	e.putBot(mira)
	body := `{"model":"Mira","messages":[{"role":"system","content":"ignored"},{"role":"user","content":[{"type":"text","text":"Any news?"}]}],"temperature":0.7,"user":"app-conv-1"}`
	r := e.must(http.StatusOK, "POST", "/v1/chat/completions", body)
	require.Equal(t, "app-conv-1", r.header.Get("X-Conversation-Id"))
	var got map[string]any
	require.NoError(t, json.Unmarshal(r.body, &got))
	require.Equal(t, "chat.completion", got["object"])
	require.Equal(t, "Mira", got["model"])
	choice := got["choices"].([]any)[0].(map[string]any)
	require.Equal(t, map[string]any{"role": "assistant", "content": "Fair winds."}, choice["message"])
	require.Equal(t, "stop", choice["finish_reason"])
	require.Equal(t, map[string]any{"prompt_tokens": 50.0, "completion_tokens": 4.0, "total_tokens": 54.0}, got["usage"])

	// The conversation was created for the bot, greeted, and holds the
	// new message and the reply.
	conv := e.must(http.StatusOK, "GET", "/v1/conversations/app-conv-1", "").json(t)
	require.Equal(t, "mira", conv["bot_id"])
	turns := e.turnList("app-conv-1")
	require.Len(t, turns, 3)
	require.Equal(t, "Any news?", turns[1].Content)
	require.Equal(t, "Fair winds.", turns[2].Content)
	req := e.backend.Requests()[0]
	require.Equal(t, "app-conv-1", req.User)
	for _, m := range req.Messages {
		require.NotEqual(t, "ignored", m.Content, "the app's messages are not the memory")
	}

	// The header wins over user; the next message continues the memory.
	e.must(http.StatusOK, "POST", "/v1/chat/completions", `{"model":"mira","messages":[{"role":"user","content":"And tomorrow?"}],"user":"other"}`,
		"X-Conversation-Id: app-conv-1")
	require.Len(t, e.turnList("app-conv-1"), 5)
	second := e.backend.Requests()[1]
	require.Contains(t, second.Messages[len(second.Messages)-2].Content, "Fair winds.", "the earlier reply is in the context")
}

func TestChatCompletionsStream(t *testing.T) {
	e := newChatEnv(t, llmtest.Reply(testUsage, "Fog ", "rolls in."), llm.Config{})
	e.putBot(mira)
	r := e.must(http.StatusOK, "POST", "/v1/chat/completions",
		`{"model":"mira","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Weather?"}]}`,
		"X-Conversation-Id: s1")
	evs := parseSSE(t, r.body)
	require.Equal(t, "[DONE]", evs[len(evs)-1].data)
	var content strings.Builder
	var finish string
	var usage map[string]any
	for _, ev := range evs[:len(evs)-1] {
		require.Empty(t, ev.name)
		var ch struct {
			ID      string `json:"id"`
			Object  string `json:"object"`
			Choices []struct {
				Delta struct {
					Content string `json:"content"`
				} `json:"delta"`
				FinishReason *string `json:"finish_reason"`
			} `json:"choices"`
			Usage map[string]any `json:"usage"`
		}
		require.NoError(t, json.Unmarshal([]byte(ev.data), &ch))
		require.Equal(t, "chat.completion.chunk", ch.Object)
		require.Equal(t, "chatcmpl-s1-2", ch.ID)
		for _, c := range ch.Choices {
			content.WriteString(c.Delta.Content)
			if c.FinishReason != nil {
				finish = *c.FinishReason
			}
		}
		if ch.Usage != nil {
			usage = ch.Usage
		}
	}
	require.Equal(t, "Fog rolls in.", content.String())
	require.Equal(t, "stop", finish)
	require.EqualValues(t, 54, usage["total_tokens"])
	require.Len(t, e.turnList("s1"), 3)
}

func TestChatCompletionsErrors(t *testing.T) {
	e := newChatEnv(t, llmtest.Reply(testUsage, "x"), llm.Config{})
	e.putBot(mira)
	e.must(http.StatusCreated, "POST", "/v1/conversations", `{"id":"plain"}`)
	for _, tc := range []struct {
		name, body string
		headers    []string
		status     int
		typ, code  string
		param      any
		message    string
	}{
		{"no model", `{"messages":[{"role":"user","content":"x"}],"user":"c"}`, nil, 400, "invalid_request_error", "invalid_request", "model", ""},
		{"unknown model", `{"model":"gpt-4o","messages":[{"role":"user","content":"x"}],"user":"c"}`, nil, 404, "invalid_request_error", "model_not_found", nil, ""},
		{"unknown model and no user", `{"model":"gpt-4o","messages":[{"role":"user","content":"x"}]}`, nil, 404, "invalid_request_error", "model_not_found", nil, ""},
		{"no user message", `{"model":"mira","messages":[{"role":"system","content":"x"}],"user":"c"}`, nil, 400, "invalid_request_error", "invalid_request", "messages", ""},
		{"no conversation", `{"model":"mira","messages":[{"role":"user","content":"x"}]}`, nil, 400, "invalid_request_error", "invalid_request", "user", ""},
		{"image part", `{"model":"mira","messages":[{"role":"user","content":[{"type":"image_url"}]}],"user":"c"}`, nil, 400, "invalid_request_error", "invalid_request", "messages[0].content[0].type", ""},
		{"other bot's conversation", `{"model":"mira","messages":[{"role":"user","content":"x"}],"user":"plain"}`, nil, 409, "invalid_request_error", "conflict", nil, `conversation "plain" was created without a bot, not for "mira"`},
		{"bad header", `{"model":"mira","messages":[{"role":"user","content":"x"}]}`, []string{"X-Conversation-Id: a/b"}, 400, "invalid_request_error", "invalid_request", "X-Conversation-Id", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.must(tc.status, "POST", "/v1/chat/completions", tc.body, tc.headers...)
			var body struct {
				Error map[string]any `json:"error"`
			}
			require.NoError(t, json.Unmarshal(r.body, &body))
			require.Equal(t, tc.typ, body.Error["type"])
			require.Equal(t, tc.code, body.Error["code"])
			require.Equal(t, tc.param, body.Error["param"])
			require.NotEmpty(t, body.Error["message"])
			require.Contains(t, body.Error["message"], tc.message)
		})
	}
	require.Zero(t, e.backend.Calls())
	e.must(http.StatusNotFound, "GET", "/v1/conversations/c", "")
}

func TestModels(t *testing.T) {
	e := newChatEnv(t, llmtest.Reply(testUsage, "x"), llm.Config{})
	got := e.must(http.StatusOK, "GET", "/v1/models", "").json(t)
	require.Equal(t, map[string]any{"object": "list", "data": []any{}}, got)
	e.putBot(mira)
	sol := mira
	sol.ID, sol.Name = "sol", "Sol"
	e.putBot(sol)
	got = e.must(http.StatusOK, "GET", "/v1/models", "").json(t)
	data := got["data"].([]any)
	require.Len(t, data, 2)
	m := data[0].(map[string]any)
	require.Equal(t, "mira", m["id"])
	require.Equal(t, "model", m["object"])
	require.Equal(t, "Mira", m["name"])
	require.Equal(t, "sol", data[1].(map[string]any)["id"])
}

func TestChatNotConfigured(t *testing.T) {
	e := newEnv(t, Config{})
	e.createConversation("c")
	r := e.must(http.StatusNotImplemented, "POST", "/v1/conversations/c/chat", `{"message":{"content":"x"}}`)
	code, _ := r.errorCode(t)
	require.Equal(t, "not_implemented", code)
	e.must(http.StatusNotImplemented, "GET", "/v1/models", "")
}

// {{user}} is the conversation's user_id when the message names nobody:
// in the first message, the chat's prompt and the context preview alike.
func TestChatUserIsConversationUserID(t *testing.T) {
	e := newChatEnv(t, llmtest.Reply(testUsage, "Aye."), llm.Config{})
	e.putBot(mira)
	e.must(http.StatusCreated, "POST", "/v1/conversations", `{"id":"c","bot_id":"mira","user_id":"Ana"}`)
	require.Equal(t, "Ahoy, Ana! I'm Mira.", e.turnList("c")[0].Content)
	e.must(http.StatusOK, "POST", "/v1/conversations/c/chat", `{"message":{"content":"Storm coming?"}}`)
	require.Contains(t, e.backend.Requests()[0].Messages[0].Content, "talks to Ana about the sea")
	r := e.must(http.StatusOK, "POST", "/v1/conversations/c/context", `{"message":{"content":"and now?"},"bot_id":"mira"}`)
	require.Contains(t, string(r.body), "talks to Ana about the sea")
	// The preview renders what chat would send: a message's name does not
	// change the conversation's user.
	r = e.must(http.StatusOK, "POST", "/v1/conversations/c/context", `{"message":{"name":"Bo","content":"and now?"},"bot_id":"mira"}`)
	require.Contains(t, string(r.body), "talks to Ana about the sea")

	e.must(http.StatusCreated, "POST", "/v1/conversations", `{"id":"anon","bot_id":"mira"}`)
	require.Equal(t, "Ahoy, User! I'm Mira.", e.turnList("anon")[0].Content)
}

func TestChatWithDeletedBot(t *testing.T) {
	e := newChatEnv(t, llmtest.Reply(testUsage, "x"), llm.Config{})
	e.putBot(mira)
	e.must(http.StatusCreated, "POST", "/v1/conversations", `{"id":"c","bot_id":"mira"}`)
	require.NoError(t, e.bots.Delete(context.Background(), "", "mira"))
	code, msg := e.must(http.StatusNotFound, "POST", "/v1/conversations/c/chat", `{"message":{"content":"hello?"}}`).errorCode(t)
	require.Equal(t, "not_found", code)
	require.Equal(t, `conversation "c" was made with a bot that no longer exists (bot "mira" not found)`, msg)
	require.Len(t, e.turnList("c"), 1, "only the first message: the refused message is not stored")
	require.Zero(t, e.backend.Calls())
}
