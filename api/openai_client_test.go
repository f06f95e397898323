package api

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/bots/llm"
	"github.com/longmem/longmem/bots/llm/llmtest"
)

// TestOfficialOpenAIClient drives /v1/chat/completions and /v1/models with
// the official OpenAI Go library, unchanged: only its base URL points at
// longmem.
func TestOfficialOpenAIClient(t *testing.T) {
	e := newChatEnv(t, func(w http.ResponseWriter, r *http.Request, req llmtest.Request, n int) {
		if req.Messages[len(req.Messages)-1].Content == "break" {
			llmtest.StartStream(w)
			llmtest.WriteChunk(w, "half a")
			return
		}
		llmtest.Reply(testUsage, "Lights ", "on.")(w, r, req, n)
	}, llm.Config{})
	e.putBot(mira)
	hs := httptest.NewServer(e.srv)
	t.Cleanup(hs.Close)
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	client := openai.NewClient(option.WithBaseURL(hs.URL+"/v1/"), option.WithAPIKey("unused"),
		option.WithHTTPClient(&http.Client{Transport: tr}), option.WithMaxRetries(0))
	ctx := context.Background()

	models, err := client.Models.List(ctx)
	require.NoError(t, err)
	require.Len(t, models.Data, 1)
	require.Equal(t, "mira", models.Data[0].ID)

	params := openai.ChatCompletionNewParams{
		Model:    "mira",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Is the lamp lit?")},
		User:     openai.String("oc-1"),
	}
	res, err := client.Chat.Completions.New(ctx, params)
	require.NoError(t, err)
	require.Len(t, res.Choices, 1)
	require.Equal(t, "Lights on.", res.Choices[0].Message.Content)
	require.Equal(t, "stop", res.Choices[0].FinishReason)
	require.EqualValues(t, 54, res.Usage.TotalTokens)

	params.Messages = []openai.ChatCompletionMessageParamUnion{openai.UserMessage("And now?")}
	params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	stream := client.Chat.Completions.NewStreaming(ctx, params)
	acc := openai.ChatCompletionAccumulator{}
	var pieces []string
	for stream.Next() {
		chunk := stream.Current()
		acc.AddChunk(chunk)
		if len(chunk.Choices) > 0 && chunk.Choices[0].Delta.Content != "" {
			pieces = append(pieces, chunk.Choices[0].Delta.Content)
		}
	}
	require.NoError(t, stream.Err())
	require.NoError(t, stream.Close())
	require.Equal(t, []string{"Lights ", "on."}, pieces)
	require.Equal(t, "Lights on.", acc.Choices[0].Message.Content)
	require.EqualValues(t, 54, acc.Usage.TotalTokens)
	require.Len(t, e.turnList("oc-1"), 5, "greeting + two exchanges")
	for _, r := range e.backend.Requests() {
		require.Equal(t, "oc-1", r.User)
	}

	// Errors come back as *openai.Error with OpenAI's fields.
	params.Model = "nobody"
	_, err = client.Chat.Completions.New(ctx, params)
	var oe *openai.Error
	require.True(t, errors.As(err, &oe), "%v", err)
	require.Equal(t, http.StatusNotFound, oe.StatusCode)
	require.Equal(t, "model_not_found", oe.Code)
	require.Equal(t, "invalid_request_error", oe.Type)

	// A stream the backend breaks ends with an error the client reports.
	params.Model = "mira"
	params.Messages = []openai.ChatCompletionMessageParamUnion{openai.UserMessage("break")}
	stream = client.Chat.Completions.NewStreaming(ctx, params)
	for stream.Next() {
	}
	require.Error(t, stream.Err())
	require.Contains(t, stream.Err().Error(), "backend")
	_ = stream.Close()
}
