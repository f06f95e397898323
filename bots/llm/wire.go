package llm

import (
	"encoding/json"
)

// The OpenAI chat completions wire format, as much of it as longmem uses.

type wireMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
	Name    string `json:"name,omitempty"`
}

type wireRequest struct {
	Model          string              `json:"model,omitempty"`
	Messages       []wireMessage       `json:"messages"`
	Temperature    *float64            `json:"temperature,omitempty"`
	TopP           *float64            `json:"top_p,omitempty"`
	MaxTokens      int                 `json:"max_tokens,omitempty"`
	Stop           []string            `json:"stop,omitempty"`
	User           string              `json:"user,omitempty"`
	ResponseFormat *wireResponseFormat `json:"response_format,omitempty"`
	Stream         bool                `json:"stream,omitempty"`
	StreamOptions  *wireStreamOptions  `json:"stream_options,omitempty"`
}

type wireResponseFormat struct {
	Type string `json:"type"`
}

type wireStreamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

type wireUsage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

func (u *wireUsage) usage() Usage {
	if u == nil {
		return Usage{}
	}
	return Usage{PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens, TotalTokens: u.TotalTokens}
}

// wireText is the text of a message or delta: content, plus the reasoning
// some servers stream separately (vLLM and SGLang "reasoning_content",
// Ollama "reasoning"), which is not part of the reply.
type wireText struct {
	Content          *string `json:"content"`
	ReasoningContent *string `json:"reasoning_content"`
	Reasoning        *string `json:"reasoning"`
}

func (t wireText) content() string {
	if t.Content == nil {
		return ""
	}
	return *t.Content
}

func (t wireText) hasReasoning() bool {
	return (t.ReasoningContent != nil && *t.ReasoningContent != "") || (t.Reasoning != nil && *t.Reasoning != "")
}

// wireResponse is a non-streaming chat.completion.
type wireResponse struct {
	Model   string `json:"model"`
	Choices []struct {
		Index        int      `json:"index"`
		Message      wireText `json:"message"`
		FinishReason *string  `json:"finish_reason"`
	} `json:"choices"`
	Usage *wireUsage      `json:"usage"`
	Error json.RawMessage `json:"error"`
}

// wireChunk is one chat.completion.chunk of a stream.
type wireChunk struct {
	Model   string `json:"model"`
	Choices []struct {
		Index        int      `json:"index"`
		Delta        wireText `json:"delta"`
		FinishReason *string  `json:"finish_reason"`
	} `json:"choices"`
	Usage *wireUsage      `json:"usage"`
	Error json.RawMessage `json:"error"`
}
