package bots

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"

	"github.com/longmem/longmem/bots/llm"
	"github.com/longmem/longmem/memory"
)

// ErrNoBackend: neither the bot nor the server names an inference backend
// (no --backend-url). Nothing was stored.
var ErrNoBackend = errors.New("no inference backend is configured: start longmem with --backend-url (or LONGMEM_BACKEND_URL), or allow one (chat.allowed_backends) and set the bot's model.backend")

// Completer is what the chat loop needs of an inference backend;
// *llm.Client implements it.
type Completer interface {
	Complete(ctx context.Context, req llm.ChatRequest) (llm.ChatResponse, error)
	Stream(ctx context.Context, req llm.ChatRequest, onDelta func(string) error) (llm.ChatResponse, error)
}

// BackendSource picks the backend a bot's model config asks for.
type BackendSource interface {
	// Backend returns the completer for mc (its Backend URL, else the
	// server's); ErrNoBackend when there is none.
	Backend(mc ModelConfig) (Completer, error)
}

// Backends makes one *llm.Client per base URL from the server's default
// configuration and caches it. Safe for concurrent use; no request is made
// until a chat.
type Backends struct {
	def  llm.Config
	http *http.Client
	// allowed are the base URLs (without a trailing slash) bots may name
	// besides the server's own.
	allowed map[string]bool

	mu      sync.Mutex
	clients map[string]*llm.Client // by base URL
}

// NewBackends returns the factory over the server's backend configuration
// def (its BaseURL may be empty: then only bots that name a backend can
// chat). client nil means a new http.Client.
func NewBackends(def llm.Config, client *http.Client) (*Backends, error) {
	if def.BaseURL != "" {
		if err := def.Validate(); err != nil {
			return nil, err
		}
	}
	return &Backends{def: def, http: client, clients: map[string]*llm.Client{}, allowed: map[string]bool{}}, nil
}

// Allow lets bots name these base URLs as their model.backend. By default
// a bot may only restate the server's own backend: a bot designer must not
// be able to make the server send requests to any address (internal
// services, cloud metadata). Call before serving.
func (b *Backends) Allow(urls ...string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, u := range urls {
		if u = normBase(u); u != "" {
			b.allowed[u] = true
		}
	}
}

func normBase(u string) string { return strings.TrimRight(strings.TrimSpace(u), "/") }

// Check refuses (memory.ErrInvalid, field model.backend) a model config
// naming a backend that is neither the server's nor allowed; the API calls
// it when a bot is saved, Backend when it chats.
func (b *Backends) Check(mc ModelConfig) error {
	base := normBase(mc.Backend)
	if base == "" || base == normBase(b.def.BaseURL) {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.allowed[base] {
		return memory.Invalid("model.backend", "%q is not a backend this server lets bots use: add it to chat.allowed_backends (LONGMEM_BACKEND_ALLOWED) or leave model.backend empty for the server's", llm.RedactedURL(base))
	}
	return nil
}

// Backend implements BackendSource. A bot's own backend URL gets the
// server's timeouts and sampling defaults but never the server's API key:
// the key belongs to the server's backend, and a bot designer could point
// a bot anywhere.
func (b *Backends) Backend(mc ModelConfig) (Completer, error) {
	base := strings.TrimSpace(mc.Backend)
	if base == "" || normBase(base) == normBase(b.def.BaseURL) {
		base = b.def.BaseURL
	}
	if base == "" {
		return nil, ErrNoBackend
	}
	if err := b.Check(mc); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if c, ok := b.clients[base]; ok {
		return c, nil
	}
	cfg := b.def
	if base != b.def.BaseURL {
		cfg.BaseURL, cfg.APIKey = base, ""
	}
	c, err := llm.New(cfg, b.http, nil)
	if err != nil {
		return nil, err
	}
	b.clients[base] = c
	return c, nil
}
