// Package api is longmem's HTTP interface: the echo server, its routes, API
// key authentication, request limits, error mapping and OpenAPI document.
package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/longmem/longmem/bots"
	"github.com/longmem/longmem/compaction"
	"github.com/longmem/longmem/memory"
	"github.com/longmem/longmem/retrieval"
)

// Defaults of Config's limits.
const (
	DefaultMaxTurnBytes = 64 << 10 // 64 KiB of content per turn
	DefaultMaxBodyBytes = 8 << 20  // 8 MiB per request body
)

// Config is the HTTP interface's configuration. The zero value works: no
// keys (every request has the tenant ""), default limits.
type Config struct {
	// MaxTurnBytes is the largest turn content accepted, in bytes of UTF-8
	// (0 means DefaultMaxTurnBytes). A larger turn is refused with 413.
	MaxTurnBytes int `yaml:"max_turn_bytes" json:"max_turn_bytes"`
	// MaxBodyBytes is the largest request body accepted, in bytes (0 means
	// DefaultMaxBodyBytes). A larger body is refused with 413.
	MaxBodyBytes int64 `yaml:"max_body_bytes" json:"max_body_bytes"`
	// Keys are the accepted API keys, each bound to one tenant. With no
	// keys, no authentication is asked for and every request belongs to the
	// tenant "" (see CheckListenAddr).
	Keys []Key `yaml:"keys" json:"keys,omitempty"`
	// Limits are the rate limits per key and tenant and the concurrency
	// bounds of the heavy routes.
	Limits Limits `yaml:"limits" json:"limits"`
	// AdminKey, when set, is the Bearer key of the admin routes
	// (/v1/admin/…: an online backup of the store); without it they answer
	// 403. A secret: from LONGMEM_ADMIN_KEY or the config file.
	AdminKey string `yaml:"admin_key" json:"admin_key,omitempty"`
}

// Key is one API key and the tenant whose data it may see.
type Key struct {
	Key    string `yaml:"key" json:"key"`
	Tenant string `yaml:"tenant" json:"tenant"`
}

// Redacted is the text printed for a secret.
const Redacted = "<redacted>"

// String hides the key itself so a Key can be logged.
func (k Key) String() string { return Redacted + ":" + k.Tenant }

// LogValue hides the key itself from slog.
func (k Key) LogValue() slog.Value {
	return slog.GroupValue(slog.String("key", Redacted), slog.String("tenant", k.Tenant))
}

// Redacted returns a copy of c with the keys' secrets replaced by Redacted,
// for printing.
func (c Config) Redacted() Config {
	keys := make([]Key, len(c.Keys))
	for i, k := range c.Keys {
		keys[i] = Key{Key: Redacted, Tenant: k.Tenant}
	}
	if c.Keys == nil {
		keys = nil
	}
	c.Keys = keys
	if c.AdminKey != "" {
		c.AdminKey = Redacted
	}
	return c
}

// ParseKeys parses the LONGMEM_API_KEYS form "key1:tenantA,key2:tenantB"
// (the key ends at the first colon; spaces around items are ignored).
func ParseKeys(s string) ([]Key, error) {
	var keys []Key
	for i, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		key, tenant, ok := strings.Cut(item, ":")
		if !ok {
			return nil, fmt.Errorf("api keys: item %d has no tenant (want key:tenant)", i+1)
		}
		keys = append(keys, Key{Key: strings.TrimSpace(key), Tenant: strings.TrimSpace(tenant)})
	}
	return keys, nil
}

// Validate reports a configuration that cannot work. It never prints a key.
func (c Config) Validate() error {
	if c.MaxTurnBytes < 0 {
		return fmt.Errorf("api: max_turn_bytes is %d; want 0 (default) or more", c.MaxTurnBytes)
	}
	if c.MaxBodyBytes < 0 {
		return fmt.Errorf("api: max_body_bytes is %d; want 0 (default) or more", c.MaxBodyBytes)
	}
	if err := c.Limits.Validate(); err != nil {
		return err
	}
	seen := make(map[string]bool, len(c.Keys))
	for i, k := range c.Keys {
		if k.Key == "" {
			return fmt.Errorf("api: keys[%d] (tenant %q): empty key", i, k.Tenant)
		}
		if strings.ContainsAny(k.Key, " \t\r\n") {
			return fmt.Errorf("api: keys[%d] (tenant %q): key contains white space", i, k.Tenant)
		}
		if err := validID(k.Tenant); err != nil {
			return fmt.Errorf("api: keys[%d]: tenant %q: %v", i, k.Tenant, err)
		}
		if seen[k.Key] {
			return fmt.Errorf("api: keys[%d] (tenant %q): the same key is listed twice", i, k.Tenant)
		}
		seen[k.Key] = true
	}
	return nil
}

// CheckListenAddr refuses to serve without API keys on an address other
// than loopback: with no keys anyone who can reach the port reads everything.
func (c Config) CheckListenAddr(addr string) error {
	if len(c.Keys) > 0 {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("api: listen address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("api: no API keys are configured, so longmem only listens on loopback (127.0.0.1, ::1, localhost), not %q; set LONGMEM_API_KEYS=key:tenant (or api.keys in the config file) or listen on 127.0.0.1", addr)
}

func (c Config) withDefaults() Config {
	if c.MaxTurnBytes == 0 {
		c.MaxTurnBytes = DefaultMaxTurnBytes
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	c.Limits = c.Limits.withDefaults()
	return c
}

// Deps are what the HTTP interface serves from. Store, Tokenizer, Indexer
// and Assembler are required; the others have defaults or are optional.
type Deps struct {
	Store memory.Store
	// Tokenizer counts each appended turn's content tokens once, before the
	// turn is stored.
	Tokenizer retrieval.Tokenizer
	// Logger receives access logs (debug) and server errors; nil discards.
	Logger *slog.Logger
	// Clock is the time source for generated ids and the rate limits'
	// token buckets; nil means time.Now.
	Clock func() time.Time
	// Registerer receives the server's metrics; nil means a new registry.
	Registerer prometheus.Registerer
	// Gatherer is what GET /metrics exposes; nil means Registerer when it
	// is also a Gatherer (a *prometheus.Registry is both).
	Gatherer prometheus.Gatherer

	// Indexer keeps the recall index in step: notified after appends,
	// told of forgotten turns and deleted conversations.
	Indexer *retrieval.Indexer
	// Assembler builds contexts (POST /v1/conversations/{id}/context).
	Assembler *retrieval.Assembler

	// Bots stores persona bots (the /v1/bots routes). Optional: without
	// it those routes answer 501.
	Bots bots.Store
	// Backends, when set, checks a bot's model.backend whenever a bot is
	// saved (created, updated, patched, imported, restored): a backend the
	// server does not allow is a 400 then, not only at chat time.
	// *bots.Backends implements it.
	Backends BackendChecker
	// Compactor folds old turns into summaries: triggered after appends and
	// context calls, run synchronously by POST …/compact. Nil leaves
	// summaries to whoever else compacts (…/compact then answers 501).
	Compactor Compactor
	// Chat is the chat loop (POST …/chat, /v1/chat/completions, /v1/models)
	// and the bots' greetings and personas for conversations and contexts.
	// Nil: those routes answer 501 and bot_id is a plain label.
	Chat *bots.Chat
}

// BackendChecker refuses a model config naming a backend bots may not use
// (memory.ErrInvalid).
type BackendChecker interface {
	Check(mc bots.ModelConfig) error
}

// Compactor is what the API needs of compaction.Worker.
type Compactor interface {
	// Trigger asks for the conversation to be compacted soon; it never
	// blocks.
	Trigger(tenant, id string)
	// CompactNow compacts the conversation now, folding every turn older
	// than the recent window.
	CompactNow(ctx context.Context, tenant, id string) (compaction.Result, error)
}

// Server is the HTTP interface. It is an http.Handler, safe for concurrent
// use; it owns none of its Deps (closing the store is the caller's job).
type Server struct {
	cfg     Config
	deps    Deps
	store   memory.Store // deps.Store with latency metrics
	metrics *metrics
	limits  *limiter
	keys    map[[32]byte]string // sha256(key) → tenant
	e       *echo.Echo
	known   map[string]bool // route templates, for metric labels

	metricsHandler http.Handler
	ui             http.Handler // the embedded web page
}

// New builds the server. It starts nothing: serve it with an http.Server.
func New(cfg Config, deps Deps) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Store == nil {
		return nil, errors.New("api: Deps.Store is nil")
	}
	if deps.Tokenizer == nil {
		return nil, errors.New("api: Deps.Tokenizer is nil")
	}
	if deps.Indexer == nil || deps.Assembler == nil {
		return nil, errors.New("api: Deps.Indexer and Deps.Assembler are required")
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if deps.Clock == nil {
		deps.Clock = time.Now
	}
	if deps.Registerer == nil {
		reg := prometheus.NewRegistry()
		deps.Registerer = reg
		if deps.Gatherer == nil {
			deps.Gatherer = reg
		}
	}
	if deps.Gatherer == nil {
		g, ok := deps.Registerer.(prometheus.Gatherer)
		if !ok {
			return nil, errors.New("api: Deps.Gatherer is nil and Deps.Registerer is not a Gatherer")
		}
		deps.Gatherer = g
	}
	if deps.Bots != nil && deps.Backends != nil {
		deps.Bots = checkedBots{Store: deps.Bots, backends: deps.Backends}
	}
	m, err := newMetrics(deps.Registerer)
	if err != nil {
		return nil, err
	}
	if deps.Assembler != nil {
		if err := registerDegraded(deps.Registerer, deps.Assembler); err != nil {
			return nil, err
		}
	}
	cfg = cfg.withDefaults()
	s := &Server{
		cfg:     cfg,
		limits:  newLimiter(cfg.Limits),
		deps:    deps,
		store:   &instrumentedStore{Store: deps.Store, m: m},
		metrics: m,
		keys:    hashKeys(cfg.Keys),
		e:       echo.New(),
		known:   map[string]bool{},

		metricsHandler: promhttp.HandlerFor(deps.Gatherer, promhttp.HandlerOpts{}),
		ui:             uiHandler(),
	}
	s.e.HideBanner = true
	s.e.HidePort = true
	s.e.HTTPErrorHandler = s.handleError
	s.routes()
	for _, r := range s.e.Routes() {
		s.known[r.Path] = true
	}
	return s, nil
}

// ServeHTTP serves one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.e.ServeHTTP(w, r) }
