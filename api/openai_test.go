package api

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/bots/llm"
	"github.com/longmem/longmem/bots/llm/llmtest"
)

// openAIResult is the part of a chat.completion the tests read.
type openAIResult struct {
	ID      string `json:"id"`
	Choices []struct {
		Message struct {
			Content string `json:"content"`
		} `json:"message"`
	} `json:"choices"`
	Usage   usageResponse  `json:"usage"`
	Longmem longmemSummary `json:"longmem"`
}

// openAIErr reads an error in OpenAI's shape, checking every key is there.
func openAIErr(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var doc map[string]map[string]any
	require.NoError(t, json.Unmarshal(body, &doc))
	e := doc["error"]
	for _, k := range []string{"message", "type", "param", "code"} {
		require.Contains(t, e, k, "OpenAI's error shape has %q", k)
	}
	return e
}

// A retry of a chat completion with the same Idempotency-Key stores the
// user turn once and returns the stored reply without asking the backend.
func TestChatCompletionsIdempotencyKey(t *testing.T) {
	e := newChatEnv(t, llmtest.Reply(testUsage, "Calm seas."), llm.Config{})
	e.putBot(mira)
	body := `{"model":"mira","messages":[{"role":"user","content":"How is the sea?"}],"user":"app-1"}`
	var first, again openAIResult
	require.NoError(t, json.Unmarshal(e.must(http.StatusOK, "POST", "/v1/chat/completions", body, "Idempotency-Key: msg-1").body, &first))
	require.NoError(t, json.Unmarshal(e.must(http.StatusOK, "POST", "/v1/chat/completions", body, "Idempotency-Key: msg-1").body, &again))
	require.Equal(t, 1, e.backend.Calls(), "the retry does not ask the backend")
	require.Equal(t, "Calm seas.", again.Choices[0].Message.Content)
	require.Equal(t, first.ID, again.ID)
	require.Equal(t, first.Usage, again.Usage)
	require.Equal(t, first.Longmem.UserSeq, again.Longmem.UserSeq)
	require.Equal(t, first.Longmem.ReplySeq, again.Longmem.ReplySeq)
	require.False(t, first.Longmem.Replayed)
	require.True(t, again.Longmem.Replayed)
	turns := e.turnList("app-1")
	require.Len(t, turns, 3, "greeting, one user turn, one reply")
	require.Equal(t, "How is the sea?", turns[1].Content)

	// Another message with the key is a conflict in OpenAI's shape.
	r := e.must(http.StatusConflict, "POST", "/v1/chat/completions",
		`{"model":"mira","messages":[{"role":"user","content":"Something else"}],"user":"app-1"}`, "Idempotency-Key: msg-1")
	require.Equal(t, "conflict", openAIErr(t, r.body)["code"])
	require.Len(t, e.turnList("app-1"), 3)
}

// A plain (non-streamed) completion whose backend fails is a 502 in
// OpenAI's error shape; the user turn stays, and a retry with the same key
// generates the reply without storing the user turn again.
func TestChatCompletionsBackendError(t *testing.T) {
	e := newChatEnv(t, failFirst, llm.Config{})
	e.putBot(mira)
	body := `{"model":"mira","messages":[{"role":"user","content":"Anyone there?"}]}`
	r := e.must(http.StatusBadGateway, "POST", "/v1/chat/completions", body, "X-Conversation-Id: c", "Idempotency-Key: k1")
	oe := openAIErr(t, r.body)
	require.Equal(t, "backend_error", oe["code"])
	require.Equal(t, "api_error", oe["type"])
	require.Nil(t, oe["param"])
	require.Contains(t, oe["message"], e.backend.URL, "names the backend")
	require.Contains(t, oe["message"], "expert shard unavailable")
	turns := e.turnList("c")
	require.Len(t, turns, 2, "the greeting and the user turn")
	require.Equal(t, "Anyone there?", turns[1].Content)

	var got openAIResult
	require.NoError(t, json.Unmarshal(e.must(http.StatusOK, "POST", "/v1/chat/completions", body, "X-Conversation-Id: c", "Idempotency-Key: k1").body, &got))
	require.Equal(t, "Back again.", got.Choices[0].Message.Content)
	require.Equal(t, int64(2), got.Longmem.UserSeq)
	require.Len(t, e.turnList("c"), 3, "the user turn was stored once")
	require.Equal(t, 2, e.backend.Calls())
}

// A plain completion whose backend times out is a 504 in OpenAI's shape.
func TestChatCompletionsBackendTimeout(t *testing.T) {
	var e *chatEnv
	e = newChatEnv(t, func(w http.ResponseWriter, r *http.Request, _ llmtest.Request, _ int) {
		e.backend.Hang(r)
	}, llm.Config{Timeout: 100 * time.Millisecond})
	e.putBot(mira)
	r := e.must(http.StatusGatewayTimeout, "POST", "/v1/chat/completions",
		`{"model":"mira","messages":[{"role":"user","content":"hello?"}],"user":"c"}`)
	oe := openAIErr(t, r.body)
	require.Equal(t, "backend_timeout", oe["code"])
	require.Equal(t, "api_error", oe["type"])
	require.Contains(t, oe["message"], e.backend.URL)
	require.Len(t, e.turnList("c"), 2, "the greeting and the user turn; no reply")
}
