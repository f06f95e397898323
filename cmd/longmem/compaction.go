package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/longmem/longmem/bots/llm"
	"github.com/longmem/longmem/compaction"
	"github.com/longmem/longmem/compaction/redisqueue"
	"github.com/longmem/longmem/memory"
	"github.com/longmem/longmem/memory/redisstore"
	"github.com/longmem/longmem/retrieval"
)

// CompactionConfig configures the summaries: planning and the worker
// (compaction.Config, inline), which summarizer writes them, and the
// Redis queue used when storage is Redis.
type CompactionConfig struct {
	compaction.Config `yaml:",inline"`
	// Summarizer is "auto" (default: the LLM when a backend is configured,
	// else extractive), "extractive" or "llm" (needs backend.base_url).
	Summarizer string `yaml:"summarizer"`
	// Queue configures the Redis Streams queue shared by the nodes of a
	// Redis deployment (unused with embedded storage).
	Queue redisqueue.Config `yaml:"queue"`
}

// Summarizer choices.
const (
	summarizerAuto       = "auto"
	summarizerExtractive = "extractive"
	summarizerLLM        = "llm"
)

// Validate reports a configuration that cannot work.
func (c CompactionConfig) Validate(backend llm.Config) error {
	if err := c.Config.Validate(); err != nil {
		return err
	}
	if err := c.Queue.Validate(); err != nil {
		return fmt.Errorf("compaction.queue: %w", err)
	}
	switch c.Summarizer {
	case "", summarizerAuto, summarizerExtractive:
	case summarizerLLM:
		if backend.BaseURL == "" {
			return errors.New("compaction: summarizer llm needs an inference backend (--backend-url, LONGMEM_BACKEND_URL or backend.base_url)")
		}
	default:
		return fmt.Errorf("compaction: unknown summarizer %q (want auto, extractive or llm)", c.Summarizer)
	}
	return nil
}

// validateBackend checks the inference backend's configuration when one is
// given (no backend is a valid configuration: chat then answers 503).
func validateBackend(c llm.Config) error {
	if c.BaseURL == "" {
		if c.Model != "" {
			return errors.New("backend: a model is set but no base URL (--backend-url or LONGMEM_BACKEND_URL)")
		}
		return nil
	}
	if err := c.Validate(); err != nil {
		return fmt.Errorf("backend: %w", err)
	}
	return nil
}

// summaryCompleter lets the bots/llm client serve compaction's LLM
// summarizer, which declares its own Completer (compaction does not import
// bots).
type summaryCompleter struct{ c *llm.Client }

func (s summaryCompleter) Complete(ctx context.Context, msgs []compaction.Message) (string, error) {
	out := make([]llm.Message, len(msgs))
	for i, m := range msgs {
		out[i] = llm.Message{Role: m.Role, Content: m.Content}
	}
	return s.c.CompleteJSON(ctx, out)
}

// summarizerOf resolves "auto": the LLM when a backend is configured.
func summarizerOf(cfg Config) string {
	if cfg.Compaction.Summarizer == summarizerLLM ||
		(cfg.Compaction.Summarizer != summarizerExtractive && cfg.Backend.BaseURL != "") {
		return summarizerLLM
	}
	return summarizerExtractive
}

// openCompaction builds the compaction worker: the summarizer cfg names,
// an in-process queue for embedded storage or the Redis Streams queue for
// Redis, metrics on reg.
func openCompaction(cfg Config, store memory.Store, tok retrieval.Tokenizer, reg prometheus.Registerer, logger *slog.Logger) (*compaction.Worker, error) {
	cs, ok := store.(compaction.Store)
	if !ok {
		return nil, fmt.Errorf("compaction: the %s store keeps no summaries", cfg.Storage.Backend)
	}
	var sum compaction.Summarizer
	if summarizerOf(cfg) == summarizerLLM {
		client, err := llm.New(cfg.Backend, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("compaction: %w", err)
		}
		sum = compaction.NewLLM(summaryCompleter{client}, cfg.Backend.Model, tok, nil)
	}
	var queue compaction.Queue
	if rs, ok := store.(*redisstore.Store); ok {
		q, err := redisqueue.New(rs.Client(), cfg.Compaction.Queue)
		if err != nil {
			return nil, err
		}
		queue = q
	}
	return compaction.NewWorker(cfg.Compaction.Config, compaction.Deps{
		Store: cs, Tokenizer: tok, Summarizer: sum, Queue: queue, Registerer: reg,
		Logger: logger.With("component", "compaction"),
	})
}
