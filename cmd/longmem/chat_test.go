package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/bots/llm/llmtest"
)

// TestServeChats: serve wires the chat loop to the configured backend, the
// bots store and the API.
func TestServeChats(t *testing.T) {
	backend := llmtest.New(t, llmtest.Reply(llmtest.Usage{PromptTokens: 9, CompletionTokens: 2, TotalTokens: 11}, "Hi ", "Ana."))
	cfg := defaultConfig()
	cfg.Storage.Data = t.TempDir()
	cfg.Backend.BaseURL = backend.URL
	cfg.Backend.Model = "served-model"
	a, err := newApp(context.Background(), cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer a.Close()
	call := func(status int, method, path, body string) map[string]any {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		a.api.ServeHTTP(rec, req)
		require.Equal(t, status, rec.Code, "%s: %s", path, rec.Body)
		var v map[string]any
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &v))
		return v
	}
	call(http.StatusCreated, "POST", "/v1/bots", `{"id":"ivy","name":"Ivy","description":"{{char}} tends a greenhouse.","first_message":"Welcome in!"}`)
	conv := call(http.StatusCreated, "POST", "/v1/conversations", `{"id":"c","bot_id":"ivy"}`)
	require.EqualValues(t, 1, conv["last_seq"], "greeted")
	got := call(http.StatusOK, "POST", "/v1/conversations/c/chat", `{"message":{"name":"Ana","content":"Hello!"}}`)
	require.Equal(t, "Hi Ana.", got["reply"].(map[string]any)["content"])
	req := backend.Requests()[0]
	require.Equal(t, "served-model", req.Model)
	require.Equal(t, "c", req.User)
	require.Contains(t, req.Messages[0].Content, "Ivy tends a greenhouse.")
	models := call(http.StatusOK, "GET", "/v1/models", "")
	require.Equal(t, "ivy", models["data"].([]any)[0].(map[string]any)["id"])
}

func TestServeChatWithoutBackend(t *testing.T) {
	cfg := defaultConfig()
	cfg.Storage.Data = t.TempDir()
	a, err := newApp(context.Background(), cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer a.Close()
	for _, c := range []struct{ path, body string }{
		{"/v1/conversations", `{"id":"c"}`},
		{"/v1/conversations/c/chat", `{"message":{"content":"hi"}}`},
	} {
		req := httptest.NewRequest("POST", c.path, strings.NewReader(c.body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		a.api.ServeHTTP(rec, req)
		if strings.HasSuffix(c.path, "chat") {
			require.Equal(t, http.StatusServiceUnavailable, rec.Code, rec.Body.String())
			require.Contains(t, rec.Body.String(), `"no_backend"`)
			require.Contains(t, rec.Body.String(), "--backend-url")
		}
	}
}
