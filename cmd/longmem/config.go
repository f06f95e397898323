package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/longmem/longmem/api"
	"github.com/longmem/longmem/bots"
	"github.com/longmem/longmem/bots/llm"
	"github.com/longmem/longmem/memory/redisstore"
	"github.com/longmem/longmem/retrieval"
)

// Defaults of the serve configuration.
const (
	defaultAddr = "127.0.0.1:8080"
	defaultData = "./longmem-data"
)

// Config is the whole configuration of `longmem serve`, composed of the
// packages' configs. Sources, strongest first: flags, environment
// (LONGMEM_*), the YAML file (--config or LONGMEM_CONFIG), defaults.
type Config struct {
	// Addr is the HTTP listen address.
	Addr string `yaml:"addr"`
	// LogLevel is debug, info, warn or error.
	LogLevel  string                    `yaml:"log_level"`
	Storage   StorageConfig             `yaml:"storage"`
	Tokenizer retrieval.TokenizerConfig `yaml:"tokenizer"`
	API       api.Config                `yaml:"api"`
	Recall    RecallConfig              `yaml:"recall"`
	// Backend is the OpenAI-compatible inference backend (chat replies and
	// LLM summaries). Its API key comes from LONGMEM_BACKEND_KEY only.
	Backend    llm.Config       `yaml:"backend"`
	Compaction CompactionConfig `yaml:"compaction"`
	// Chat is the chat loop's defaults (context window and max output
	// tokens of bots that set none).
	Chat bots.ChatConfig `yaml:"chat"`
}

// StorageConfig selects and configures the memory.Store backend.
type StorageConfig struct {
	// Backend is "embedded" (default) or "redis".
	Backend string `yaml:"backend"`
	// Data is the embedded backend's data directory.
	Data  string      `yaml:"data"`
	Redis RedisConfig `yaml:"redis"`
}

// RedisConfig is the redis backend's connection (see redisstore.Config).
type RedisConfig struct {
	// Addrs are host:port of one Redis, or seed nodes of a Redis Cluster
	// (several addresses mean a cluster).
	Addrs    []string `yaml:"addrs"`
	Cluster  bool     `yaml:"cluster"`
	Username string   `yaml:"username"`
	Password string   `yaml:"password"`
	// DB is the database of a single server (0 in cluster mode).
	DB int `yaml:"db"`
	// KeyPrefix starts every key (default "lm").
	KeyPrefix string `yaml:"key_prefix"`
}

// store is the redisstore configuration of c.
func (c RedisConfig) store() redisstore.Config {
	return redisstore.Config{
		Addrs: c.Addrs, Cluster: c.Cluster, Username: c.Username, Password: c.Password,
		DB: c.DB, KeyPrefix: c.KeyPrefix,
	}
}

// Storage backends.
const (
	backendEmbedded = "embedded"
	backendRedis    = "redis"
)

func defaultConfig() Config {
	return Config{
		Addr:       defaultAddr,
		LogLevel:   "info",
		Storage:    StorageConfig{Backend: backendEmbedded, Data: defaultData},
		Tokenizer:  retrieval.TokenizerConfig{Encoding: "cl100k_base"},
		API:        api.Config{MaxTurnBytes: api.DefaultMaxTurnBytes, MaxBodyBytes: api.DefaultMaxBodyBytes},
		Recall:     RecallConfig{Index: indexEmbedded, Embedder: EmbedderConfig{Kind: "none"}},
		Compaction: CompactionConfig{Summarizer: summarizerAuto},
	}
}

// Validate reports a configuration that cannot work.
func (c StorageConfig) Validate() error {
	switch c.Backend {
	case backendEmbedded:
		if c.Data == "" {
			return errors.New("storage: data directory is empty (--data, LONGMEM_DATA or storage.data)")
		}
	case backendRedis:
		if len(c.Redis.Addrs) == 0 {
			return errors.New("storage: backend redis needs at least one address (LONGMEM_REDIS_ADDRS or storage.redis.addrs)")
		}
		for _, a := range c.Redis.Addrs {
			if _, _, err := net.SplitHostPort(a); err != nil {
				return fmt.Errorf("storage: redis address %q: %w", a, err)
			}
		}
		return c.Redis.store().Validate()
	default:
		if strings.Contains(c.Backend, "://") {
			return fmt.Errorf("storage: unknown backend %q (want embedded or redis); --backend is the storage backend, the inference backend is --backend-url", c.Backend)
		}
		return fmt.Errorf("storage: unknown backend %q (want embedded or redis)", c.Backend)
	}
	return nil
}

// Validate reports a configuration that cannot work, including API keys
// missing for a non-loopback address.
func (c Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("addr %q: %w", c.Addr, err)
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		return err
	}
	if err := c.Storage.Validate(); err != nil {
		return err
	}
	if err := c.Tokenizer.Validate(); err != nil {
		return err
	}
	if err := c.API.Validate(); err != nil {
		return err
	}
	if err := c.Recall.Validate(); err != nil {
		return err
	}
	if err := validateBackend(c.Backend); err != nil {
		return err
	}
	if err := c.Compaction.Validate(c.Backend); err != nil {
		return err
	}
	if err := c.Chat.Validate(); err != nil {
		return err
	}
	return c.API.CheckListenAddr(c.Addr)
}

// Redacted returns a copy of c safe to print.
func (c Config) Redacted() Config {
	c.API = c.API.Redacted()
	if c.Storage.Redis.Password != "" {
		c.Storage.Redis.Password = api.Redacted
	}
	c.Storage.Redis.Addrs = append([]string(nil), c.Storage.Redis.Addrs...)
	if c.Recall.Embedder.Key != "" {
		c.Recall.Embedder.Key = api.Redacted
	}
	if c.Recall.Qdrant.APIKey != "" {
		c.Recall.Qdrant.APIKey = api.Redacted
	}
	return c
}

// Effective is c with the packages' defaults filled in where c leaves a
// zero: the values in effect. (backend.max_retries keeps a negative value:
// it means none.)
func (c Config) Effective() Config {
	c.Recall.Assembler = c.Recall.Assembler.WithDefaults()
	c.Compaction.Config = c.Compaction.Config.WithDefaults()
	c.Chat = c.Chat.WithDefaults()
	if c.Backend.Timeout == 0 {
		c.Backend.Timeout = llm.DefaultTimeout
	}
	if c.Backend.FirstTokenTimeout == 0 {
		c.Backend.FirstTokenTimeout = llm.DefaultFirstTokenTimeout
	}
	if c.Backend.MaxRetries == 0 {
		c.Backend.MaxRetries = llm.DefaultMaxRetries
	}
	return c
}

// YAML is the configuration in effect as a config file, secrets redacted.
// The backend's API key, which only LONGMEM_BACKEND_KEY sets, shows as a
// comment when set.
func (c Config) YAML() ([]byte, error) {
	c = c.Effective()
	var buf bytes.Buffer
	buf.WriteString("# longmem serve configuration in effect (defaults filled in); usable as a --config file.\n")
	if c.Backend.APIKey != "" {
		buf.WriteString("# backend API key (LONGMEM_BACKEND_KEY): " + api.Redacted + "\n")
	}
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(c.Redacted()); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("log level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// readConfigFile decodes a YAML config file over cfg; unknown keys are
// errors.
func readConfigFile(path string, cfg *Config) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	return nil
}

// envVar is one LONGMEM_* variable and how it sets the configuration.
type envVar struct {
	name string
	help string
	set  func(c *Config, v string) error
}

// envVars are the environment variables serve reads (besides
// LONGMEM_CONFIG, the config file's path).
var envVars = []envVar{
	{"LONGMEM_ADDR", "HTTP listen address", func(c *Config, v string) error { c.Addr = v; return nil }},
	{"LONGMEM_LOG_LEVEL", "debug, info, warn or error", func(c *Config, v string) error { c.LogLevel = v; return nil }},
	{"LONGMEM_DATA", "embedded data directory", func(c *Config, v string) error { c.Storage.Data = v; return nil }},
	{"LONGMEM_STORAGE_BACKEND", "embedded or redis", func(c *Config, v string) error { c.Storage.Backend = v; return nil }},
	{"LONGMEM_REDIS_ADDRS", "comma-separated host:port list", func(c *Config, v string) error { c.Storage.Redis.Addrs = splitList(v); return nil }},
	{"LONGMEM_REDIS_USERNAME", "Redis ACL user name", func(c *Config, v string) error { c.Storage.Redis.Username = v; return nil }},
	{"LONGMEM_REDIS_PASSWORD", "Redis password (secret)", func(c *Config, v string) error { c.Storage.Redis.Password = v; return nil }},
	{"LONGMEM_REDIS_DB", "Redis database number (single server)", func(c *Config, v string) (err error) {
		c.Storage.Redis.DB, err = parseInt[int]("LONGMEM_REDIS_DB", v)
		return err
	}},
	{"LONGMEM_REDIS_KEY_PREFIX", "prefix of every Redis key (default lm)", func(c *Config, v string) error { c.Storage.Redis.KeyPrefix = v; return nil }},
	{"LONGMEM_REDIS_CLUSTER", "true for Redis Cluster", func(c *Config, v string) (err error) {
		c.Storage.Redis.Cluster, err = parseBool("LONGMEM_REDIS_CLUSTER", v)
		return err
	}},
	{"LONGMEM_TOKENIZER_ENCODING", "cl100k_base or o200k_base", func(c *Config, v string) error { c.Tokenizer.Encoding = v; return nil }},
	{"LONGMEM_TOKENIZER_RANKS_FILE", "tiktoken ranks file path", func(c *Config, v string) error { c.Tokenizer.RanksFile = v; return nil }},
	{"LONGMEM_TOKENIZER_PATTERN", "split regex of the ranks file", func(c *Config, v string) error { c.Tokenizer.Pattern = v; return nil }},
	{"LONGMEM_API_KEYS", "key1:tenantA,key2:tenantB (secret)", func(c *Config, v string) (err error) {
		c.API.Keys, err = api.ParseKeys(v)
		return err
	}},
	{"LONGMEM_ADMIN_KEY", "Bearer key of /v1/admin/… (online backup) (secret)", func(c *Config, v string) error { c.API.AdminKey = v; return nil }},
	{"LONGMEM_API_MAX_TURN_BYTES", "largest turn content, bytes", func(c *Config, v string) (err error) {
		c.API.MaxTurnBytes, err = parseInt[int]("LONGMEM_API_MAX_TURN_BYTES", v)
		return err
	}},
	{"LONGMEM_RECALL_INDEX", "recall index: embedded or qdrant", func(c *Config, v string) error { c.Recall.Index = v; return nil }},
	{"LONGMEM_RECALL_MAX_INDEX_BYTES", "embedded index byte bound (0: a quarter of memory, <0: none)", func(c *Config, v string) (err error) {
		c.Recall.MaxIndexBytes, err = parseInt[int64]("LONGMEM_RECALL_MAX_INDEX_BYTES", v)
		return err
	}},
	{"LONGMEM_QDRANT_ADDR", "Qdrant gRPC host:port", func(c *Config, v string) error { c.Recall.Qdrant.Addr = v; return nil }},
	{"LONGMEM_QDRANT_API_KEY", "Qdrant API key (secret)", func(c *Config, v string) error { c.Recall.Qdrant.APIKey = v; return nil }},
	{"LONGMEM_QDRANT_COLLECTION", "Qdrant collection (default longmem_turns)", func(c *Config, v string) error { c.Recall.Qdrant.Collection = v; return nil }},
	{"LONGMEM_EMBEDDER", "none, static:PATH or openai:URL", func(c *Config, v string) error { return parseEmbedderSpec(v, &c.Recall.Embedder) }},
	{"LONGMEM_EMBEDDER_MODEL", "model of the openai embedder", func(c *Config, v string) error { c.Recall.Embedder.Model = v; return nil }},
	{"LONGMEM_EMBEDDER_KEY", "API key of the openai embedder (secret)", func(c *Config, v string) error { c.Recall.Embedder.Key = v; return nil }},
	{"LONGMEM_EMBEDDER_DIMENSION", "expected embedding dimension (0: any)", func(c *Config, v string) (err error) {
		c.Recall.Embedder.Dimension, err = parseInt[int]("LONGMEM_EMBEDDER_DIMENSION", v)
		return err
	}},
	{"LONGMEM_API_RATE_REQUESTS", "requests/s per API key and per tenant (0: unlimited)", func(c *Config, v string) (err error) {
		c.API.Limits.RequestsPerSecond, err = parseFloat("LONGMEM_API_RATE_REQUESTS", v)
		return err
	}},
	{"LONGMEM_API_RATE_TURNS", "appended turns/s per API key and per tenant (0: unlimited)", func(c *Config, v string) (err error) {
		c.API.Limits.TurnsPerSecond, err = parseFloat("LONGMEM_API_RATE_TURNS", v)
		return err
	}},
	{"LONGMEM_API_MAX_CONTEXT", "context assemblies at once (0: 4 per CPU)", func(c *Config, v string) (err error) {
		c.API.Limits.MaxContext, err = parseInt[int]("LONGMEM_API_MAX_CONTEXT", v)
		return err
	}},
	{"LONGMEM_API_MAX_CHAT", "chat calls at once (0: 64)", func(c *Config, v string) (err error) {
		c.API.Limits.MaxChat, err = parseInt[int]("LONGMEM_API_MAX_CHAT", v)
		return err
	}},
	{"LONGMEM_API_QUEUE_TIMEOUT", "wait for a context/chat slot before 503, e.g. 2s", func(c *Config, v string) (err error) {
		c.API.Limits.QueueTimeout, err = parseDuration("LONGMEM_API_QUEUE_TIMEOUT", v)
		return err
	}},
	{"LONGMEM_API_MAX_BODY_BYTES", "largest request body, bytes", func(c *Config, v string) (err error) {
		c.API.MaxBodyBytes, err = parseInt[int64]("LONGMEM_API_MAX_BODY_BYTES", v)
		return err
	}},
	{"LONGMEM_BACKEND_URL", "OpenAI-compatible inference backend base URL", func(c *Config, v string) error { c.Backend.BaseURL = v; return nil }},
	{"LONGMEM_BACKEND_MODEL", "model name sent to the backend", func(c *Config, v string) error { c.Backend.Model = v; return nil }},
	{"LONGMEM_BACKEND_KEY", "API key of the backend (secret)", func(c *Config, v string) error { c.Backend.APIKey = v; return nil }},
	{"LONGMEM_BACKEND_ALLOWED", "comma-separated backend base URLs bots may name in model.backend", func(c *Config, v string) error {
		c.Chat.AllowedBackends = splitList(v)
		return nil
	}},
	{"LONGMEM_BACKEND_TIMEOUT", "bound of one backend call, e.g. 120s", func(c *Config, v string) (err error) {
		c.Backend.Timeout, err = parseDuration("LONGMEM_BACKEND_TIMEOUT", v)
		return err
	}},
	{"LONGMEM_SUMMARIZER", "auto, extractive or llm", func(c *Config, v string) error { c.Compaction.Summarizer = v; return nil }},
	{"LONGMEM_COMPACTION_KEEP_RECENT_TURNS", "turns never folded into summaries (default 100)", func(c *Config, v string) (err error) {
		c.Compaction.KeepRecentTurns, err = parseInt[int]("LONGMEM_COMPACTION_KEEP_RECENT_TURNS", v)
		return err
	}},
}

// applyEnv sets cfg from the LONGMEM_* variables present in env. A set but
// empty variable counts as set.
func applyEnv(cfg *Config, env map[string]string) error {
	for _, v := range envVars {
		val, ok := env[v.name]
		if !ok {
			continue
		}
		if err := v.set(cfg, val); err != nil {
			return err
		}
	}
	return nil
}

// unknownEnv lists LONGMEM_* variables serve does not know (typos).
func unknownEnv(env map[string]string) []string {
	known := map[string]bool{"LONGMEM_CONFIG": true}
	for _, v := range envVars {
		known[v.name] = true
	}
	var out []string
	for k := range env {
		if strings.HasPrefix(k, "LONGMEM_") && !known[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// serveFlags are serve's command-line flags; only those given override.
type serveFlags struct {
	fs          *flag.FlagSet
	config      string
	printConfig bool
	addr        string
	data        string
	backend     string
	redisAddrs  string
	logLevel    string
	encoding    string
	maxTurn     int
	maxBody     int64
	index       string
	indexBytes  int64
	embedder    string
	backendURL  string
	model       string
	timeout     time.Duration
	summarizer  string
	err         error // from apply
}

func newServeFlags(out io.Writer) *serveFlags {
	f := &serveFlags{fs: flag.NewFlagSet("serve", flag.ContinueOnError)}
	fs := f.fs
	fs.SetOutput(out)
	fs.StringVar(&f.config, "config", "", "YAML config file (env LONGMEM_CONFIG); unknown keys are errors")
	fs.BoolVar(&f.printConfig, "print-config", false, "print the effective configuration (secrets redacted) and exit")
	fs.StringVar(&f.addr, "addr", defaultAddr, "HTTP listen address (env LONGMEM_ADDR)")
	fs.StringVar(&f.data, "data", defaultData, "embedded storage directory (env LONGMEM_DATA)")
	fs.StringVar(&f.backend, "backend", backendEmbedded, "storage backend: embedded or redis (env LONGMEM_STORAGE_BACKEND); the inference backend is --backend-url")
	fs.StringVar(&f.redisAddrs, "redis-addrs", "", "comma-separated Redis addresses (env LONGMEM_REDIS_ADDRS)")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error (env LONGMEM_LOG_LEVEL)")
	fs.StringVar(&f.encoding, "tokenizer", "cl100k_base", "token encoding: cl100k_base or o200k_base (env LONGMEM_TOKENIZER_ENCODING)")
	fs.IntVar(&f.maxTurn, "max-turn-bytes", api.DefaultMaxTurnBytes, "largest turn content in bytes (env LONGMEM_API_MAX_TURN_BYTES)")
	fs.Int64Var(&f.maxBody, "max-body-bytes", api.DefaultMaxBodyBytes, "largest request body in bytes (env LONGMEM_API_MAX_BODY_BYTES)")
	fs.StringVar(&f.index, "index", indexEmbedded, "recall index: embedded or qdrant (env LONGMEM_RECALL_INDEX)")
	fs.Int64Var(&f.indexBytes, "max-index-bytes", 0, "embedded index byte bound; 0: a quarter of memory, <0: none (env LONGMEM_RECALL_MAX_INDEX_BYTES)")
	fs.StringVar(&f.embedder, "embedder", "none", "embedder: none, static:PATH or openai:URL (env LONGMEM_EMBEDDER)")
	fs.StringVar(&f.backendURL, "backend-url", "", "OpenAI-compatible inference backend, e.g. http://localhost:8000/v1 (env LONGMEM_BACKEND_URL; key: LONGMEM_BACKEND_KEY)")
	fs.StringVar(&f.model, "backend-model", "", "model name sent to the backend (env LONGMEM_BACKEND_MODEL)")
	fs.DurationVar(&f.timeout, "backend-timeout", llm.DefaultTimeout, "bound of one backend call (env LONGMEM_BACKEND_TIMEOUT)")
	fs.StringVar(&f.summarizer, "summarizer", summarizerAuto, "summaries: auto (LLM when a backend is set), extractive or llm (env LONGMEM_SUMMARIZER)")
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: longmem serve [flags]\n\nServe the REST API. API keys (LONGMEM_API_KEYS=key:tenant,…) and the Redis\npassword (LONGMEM_REDIS_PASSWORD) come from the environment or the config file;\nthe inference backend's key from LONGMEM_BACKEND_KEY only.\n\nFlags:\n")
		fs.PrintDefaults()
		fmt.Fprintf(out, "\nEnvironment:\n  %-37s %s\n", "LONGMEM_CONFIG", "config file path")
		for _, v := range envVars {
			fmt.Fprintf(out, "  %-37s %s\n", v.name, v.help)
		}
	}
	return f
}

// apply sets cfg from the flags given on the command line.
func (f *serveFlags) apply(cfg *Config) {
	f.fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "addr":
			cfg.Addr = f.addr
		case "data":
			cfg.Storage.Data = f.data
		case "backend":
			cfg.Storage.Backend = f.backend
		case "redis-addrs":
			cfg.Storage.Redis.Addrs = splitList(f.redisAddrs)
		case "log-level":
			cfg.LogLevel = f.logLevel
		case "tokenizer":
			cfg.Tokenizer.Encoding = f.encoding
		case "max-turn-bytes":
			cfg.API.MaxTurnBytes = f.maxTurn
		case "max-body-bytes":
			cfg.API.MaxBodyBytes = f.maxBody
		case "index":
			cfg.Recall.Index = f.index
		case "max-index-bytes":
			cfg.Recall.MaxIndexBytes = f.indexBytes
		case "embedder":
			f.err = errors.Join(f.err, parseEmbedderSpec(f.embedder, &cfg.Recall.Embedder))
		case "backend-url":
			cfg.Backend.BaseURL = f.backendURL
		case "backend-model":
			cfg.Backend.Model = f.model
		case "backend-timeout":
			cfg.Backend.Timeout = f.timeout
		case "summarizer":
			cfg.Compaction.Summarizer = f.summarizer
		}
	})
}

// loadConfig builds the serve configuration from defaults, the config
// file, env and the parsed flags, in rising precedence. It does not
// validate.
func loadConfig(f *serveFlags, env map[string]string) (Config, error) {
	cfg := defaultConfig()
	path := env["LONGMEM_CONFIG"]
	if f.config != "" {
		path = f.config
	}
	if path != "" {
		if err := readConfigFile(path, &cfg); err != nil {
			return cfg, err
		}
	}
	if err := applyEnv(&cfg, env); err != nil {
		return cfg, err
	}
	f.apply(&cfg)
	return cfg, f.err
}

// didYouMean suggests the known variable closest to an unknown one
// (", did you mean LONGMEM_API_KEYS?"), or "" when none is close.
func didYouMean(name string) string {
	best, bestD := "", 3 // at most two edits away
	for _, v := range envVars {
		if d := editDistance(name, v.name); d < bestD {
			best, bestD = v.name, d
		}
	}
	if best == "" {
		return ""
	}
	return ", did you mean " + best + "?"
}

// editDistance is the Levenshtein distance of a and b (bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func parseBool(name, v string) (bool, error) {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s=%q: want true or false", name, v)
	}
	return b, nil
}

func parseDuration(name, v string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s=%q: want a duration such as 90s or 2m", name, v)
	}
	return d, nil
}

func parseFloat(name, v string) (float64, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		return 0, fmt.Errorf("%s=%q: want a number ≥ 0", name, v)
	}
	return f, nil
}

func parseInt[T int | int64](name, v string) (T, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s=%q: want an integer", name, v)
	}
	return T(n), nil
}
