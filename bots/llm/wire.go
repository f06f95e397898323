package llm

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
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

// maxErrorMessage caps a message taken from a body that is not one of the
// known error shapes, in bytes.
const maxErrorMessage = 512

// errorMessage extracts the message of an error body in the shapes
// OpenAI-compatible servers use: {"error":{"message":…}}, {"error":"…"},
// {"message":"…"} (vLLM's older "object":"error"), {"detail":…}
// (FastAPI); else the body itself, shortened.
func errorMessage(raw []byte) string {
	var shape struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
		Detail  json.RawMessage `json:"detail"`
	}
	if json.Unmarshal(raw, &shape) == nil {
		if msg := errorField(shape.Error); msg != "" {
			return msg
		}
		if shape.Message != "" {
			return shape.Message
		}
		if len(shape.Detail) > 0 && string(shape.Detail) != "null" {
			var s string
			if json.Unmarshal(shape.Detail, &s) == nil {
				return s
			}
			return shorten(string(shape.Detail))
		}
	}
	return shorten(strings.TrimSpace(string(raw)))
}

// errorField is the message of an "error" member: an object with a
// message, or a string; "" when absent or null.
func errorField(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var obj struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(raw, &obj) == nil && obj.Message != "" {
		return obj.Message
	}
	var s string
	if json.Unmarshal(raw, &s) == nil && s != "" {
		return s
	}
	return shorten(string(raw))
}

func shorten(s string) string {
	if len(s) <= maxErrorMessage {
		return s
	}
	cut := maxErrorMessage
	for cut > 0 && !utf8Start(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// maxRetryAfter caps the wait a server's Retry-After can ask for.
const maxRetryAfter = time.Minute

// retryAfter parses a Retry-After header in seconds (HTTP dates are
// ignored), capped at maxRetryAfter.
func retryAfter(h string) time.Duration {
	if h == "" {
		return 0
	}
	s, err := strconv.Atoi(strings.TrimSpace(h))
	if err != nil || s < 0 {
		return 0
	}
	return min(time.Duration(min(s, 3600))*time.Second, maxRetryAfter)
}
