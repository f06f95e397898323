package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/longmem/longmem/memory"
	"github.com/longmem/longmem/retrieval"
	"github.com/longmem/longmem/retrieval/embeddedindex"
	"github.com/longmem/longmem/retrieval/qdrant"
)

// RecallConfig selects the recall index, the embedder and the assembly
// policy.
type RecallConfig struct {
	// Index is "embedded" (default: in process, rebuilt from the store on
	// demand) or "qdrant".
	Index string `yaml:"index"`
	// MaxConversations bounds the embedded index's LRU (default 1024).
	MaxConversations int `yaml:"max_conversations"`
	// MaxIndexBytes bounds the heap of the embedded index: past it whole
	// conversations are evicted, least recently used first. 0 (default):
	// a quarter of the memory the process may use (GOMEMLIMIT, the cgroup
	// limit or the machine's memory, whichever is smallest); < 0: no bound.
	// With a byte bound, max_conversations 0 means no count bound.
	MaxIndexBytes int64                     `yaml:"max_index_bytes"`
	Qdrant        QdrantConfig              `yaml:"qdrant"`
	Embedder      EmbedderConfig            `yaml:"embedder"`
	Assembler     retrieval.AssemblerConfig `yaml:"assembler"`
}

// EmbedderConfig selects the embedder: "none" (default, lexical recall
// only), "static" (a word-vector file at Path) or "openai" (an
// OpenAI-compatible /v1/embeddings server at URL).
type EmbedderConfig struct {
	Kind      string `yaml:"kind"`
	Path      string `yaml:"path"`
	URL       string `yaml:"url"`
	Model     string `yaml:"model"`
	Key       string `yaml:"key"`
	Dimension int    `yaml:"dimension"`
}

// QdrantConfig is the qdrant index's connection (see qdrant.Config).
type QdrantConfig struct {
	Addr       string `yaml:"addr"`
	APIKey     string `yaml:"api_key"`
	Collection string `yaml:"collection"`
	TLS        bool   `yaml:"tls"`
}

// Recall index backends.
const (
	indexEmbedded = "embedded"
	indexQdrant   = "qdrant"
)

// parseEmbedderSpec reads the short form none | static:PATH | openai:URL.
func parseEmbedderSpec(spec string, e *EmbedderConfig) error {
	kind, rest, _ := strings.Cut(spec, ":")
	switch kind {
	case "none", "":
		e.Kind = "none"
	case "static":
		e.Kind, e.Path = "static", rest
	case "openai":
		e.Kind, e.URL = "openai", rest
	default:
		return fmt.Errorf("embedder %q: want none, static:PATH or openai:URL", spec)
	}
	return nil
}

// Validate reports a configuration that cannot work.
func (c RecallConfig) Validate() error {
	switch c.Index {
	case "", indexEmbedded:
	case indexQdrant:
		if c.Qdrant.Addr == "" {
			return errors.New("recall: index qdrant needs recall.qdrant.addr (LONGMEM_QDRANT_ADDR)")
		}
	default:
		return fmt.Errorf("recall: unknown index %q (want embedded or qdrant)", c.Index)
	}
	switch c.Embedder.Kind {
	case "", "none":
	case "static":
		if c.Embedder.Path == "" {
			return errors.New("recall: embedder static needs a vectors file path (static:PATH)")
		}
	case "openai":
		if c.Embedder.URL == "" {
			return errors.New("recall: embedder openai needs a base URL (openai:URL)")
		}
	default:
		return fmt.Errorf("recall: unknown embedder %q (want none, static or openai)", c.Embedder.Kind)
	}
	if c.MaxConversations < 0 {
		return errors.New("recall: max_conversations must be >= 0")
	}
	return c.Assembler.Validate()
}

// recall is the wired recall path.
type recall struct {
	index     retrieval.Index
	embedder  retrieval.Embedder
	analyzer  *retrieval.Analyzer
	indexer   *retrieval.Indexer
	assembler *retrieval.Assembler
}

// openRecall builds the embedder, the index, the indexer and the assembler.
func openRecall(ctx context.Context, cfg RecallConfig, store memory.Store, tok retrieval.Tokenizer, logger *slog.Logger) (*recall, error) {
	var (
		emb retrieval.Embedder
		dim int
	)
	switch cfg.Embedder.Kind {
	case "static":
		start := time.Now()
		s, err := retrieval.LoadStatic(cfg.Embedder.Path, retrieval.StaticOptions{})
		if err != nil {
			return nil, fmt.Errorf("recall: static embedder: %w", err)
		}
		logger.Info("static embedder loaded", "path", cfg.Embedder.Path, "words", s.Vocabulary(), "dimension", s.Dimension(), "took", time.Since(start).Round(time.Millisecond))
		emb, dim = s, s.Dimension()
	case "openai":
		o, err := retrieval.NewOpenAIEmbedder(retrieval.OpenAIConfig{BaseURL: cfg.Embedder.URL, Model: cfg.Embedder.Model,
			APIKey: cfg.Embedder.Key, Dimension: cfg.Embedder.Dimension}, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("recall: openai embedder: %w", err)
		}
		emb, dim = o, cfg.Embedder.Dimension
	}
	var idx retrieval.Index
	switch cfg.Index {
	case indexQdrant:
		if emb != nil && dim == 0 {
			v, err := emb.Embed(ctx, []string{"dimension probe"})
			if err != nil {
				return nil, fmt.Errorf("recall: probing the embedder's dimension for qdrant: %w", err)
			}
			dim = len(v[0])
		}
		q, err := qdrant.New(ctx, qdrant.Config{Addr: cfg.Qdrant.Addr, APIKey: cfg.Qdrant.APIKey,
			Collection: cfg.Qdrant.Collection, UseTLS: cfg.Qdrant.TLS, Dense: dim})
		if err != nil {
			return nil, fmt.Errorf("recall: qdrant: %w", err)
		}
		idx = q
	default:
		e, err := embeddedindex.New(embeddedindex.Config{MaxConversations: cfg.MaxConversations, MaxBytes: indexBytes(cfg)})
		if err != nil {
			return nil, err
		}
		idx = e
	}
	an := retrieval.NewAnalyzer(retrieval.AnalyzerConfig{})
	ix := retrieval.NewIndexer(store, idx, an, tok, emb)
	ix.SetLogger(logger.With("component", "indexer"))
	return &recall{index: idx, embedder: emb, analyzer: an, indexer: ix,
		assembler: retrieval.NewAssembler(cfg.Assembler, store, ix, tok)}, nil
}
