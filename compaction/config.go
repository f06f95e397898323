// Package compaction folds turns that have left the recent window into
// rolling, hierarchical summaries: a pure planner, summarizers (extractive
// and LLM) and a background worker that never blocks a chat request.
package compaction

import (
	"errors"
	"fmt"
	"time"
)

// Defaults of Config.
const (
	DefaultKeepRecentTurns    = 100
	DefaultSessionGap         = 4 * time.Hour
	DefaultChunkTokens        = 1200
	DefaultMinChunkTokens     = 100
	DefaultQuietAfter         = 15 * time.Second
	DefaultFlushAfter         = 10 * time.Minute
	DefaultSummaryTokens      = 128
	DefaultLevelTokens        = 1500
	DefaultLevelFanIn         = 6
	DefaultLevelSummaryTokens = 320
	DefaultInterval           = 10 * time.Second
	DefaultConcurrency        = 2
	DefaultBackoffMin         = time.Second
	DefaultBackoffMax         = 5 * time.Minute
	DefaultSummarizeTimeout   = 2 * time.Minute
)

// Config configures planning and the worker. The zero value works: every
// zero field takes its Default… value. Token figures are tokens of the
// configured tokenizer, never bytes.
type Config struct {
	// KeepRecentTurns is the recent window: the last N turns of a
	// conversation are never folded (default 100).
	KeepRecentTurns int `yaml:"keep_recent_turns" json:"keep_recent_turns,omitempty"`
	// SessionGap is the pause between two consecutive turns' created_at
	// that ends a session, and with it a level-0 chunk (default 4h).
	SessionGap time.Duration `yaml:"session_gap" json:"session_gap,omitempty"`
	// ChunkTokens caps a level-0 chunk: a chunk ends before the turn that
	// would take its content past ChunkTokens (default 1200). A single
	// larger turn is a chunk of its own.
	ChunkTokens int `yaml:"chunk_tokens" json:"chunk_tokens,omitempty"`
	// MinChunkTokens: a session gap does not end a chunk smaller than this;
	// a short session ("hi" … "bye") joins the next one (default 100).
	MinChunkTokens int `yaml:"min_chunk_tokens" json:"min_chunk_tokens,omitempty"`
	// QuietAfter: the last old chunk, neither ended by a gap nor full, is
	// folded once the conversation's newest turn is this old by the clock
	// (the conversation paused) if it holds at least MinChunkTokens
	// (default 15s). So a bulk import is covered seconds after it ends.
	QuietAfter time.Duration `yaml:"quiet_after" json:"quiet_after,omitempty"`
	// FlushAfter: the last old chunk is folded whatever its size once the
	// newest turn is this old (default 10m). Until then a sliver waits, so
	// that a live chat is not folded a turn or two at a time. CompactNow
	// folds it regardless.
	FlushAfter time.Duration `yaml:"flush_after" json:"flush_after,omitempty"`
	// SummaryTokens is the token target of a level-0 summary (default
	// 128: on LoCoMo, 256-token summaries were too coarse for the 20 %
	// summary share of a 1,024-token context); it is further capped at a
	// third of its chunk.
	SummaryTokens int `yaml:"summary_tokens" json:"summary_tokens,omitempty"`
	// LevelTokens: when the level-k summaries not yet folded into level k+1
	// total more than this, the oldest are folded (default 1500).
	LevelTokens int `yaml:"level_tokens" json:"level_tokens,omitempty"`
	// LevelFanIn is the most level-k summaries one level-(k+1) summary
	// folds (default 6, at least 2).
	LevelFanIn int `yaml:"level_fan_in" json:"level_fan_in,omitempty"`
	// LevelSummaryTokens is the token target of a level ≥ 1 summary
	// (default 320); it is further capped at half of its children's total.
	LevelSummaryTokens int `yaml:"level_summary_tokens" json:"level_summary_tokens,omitempty"`

	// Interval is the worker's timer: how often it revisits conversations
	// with pending work, retries and idle flushes (default 10s).
	Interval time.Duration `yaml:"interval" json:"interval,omitempty"`
	// Concurrency is how many conversations one worker compacts at a time
	// (default 2).
	Concurrency int `yaml:"concurrency" json:"concurrency,omitempty"`
	// BackoffMin and BackoffMax bound the exponential backoff of a
	// conversation whose compaction failed (defaults 1s and 5m).
	BackoffMin time.Duration `yaml:"backoff_min" json:"backoff_min,omitempty"`
	BackoffMax time.Duration `yaml:"backoff_max" json:"backoff_max,omitempty"`
	// SummarizeTimeout bounds one Summarize call (default 2m); on timeout
	// the extractive fallback writes the summary.
	SummarizeTimeout time.Duration `yaml:"summarize_timeout" json:"summarize_timeout,omitempty"`
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	ints := []struct {
		name string
		v    int
	}{
		{"keep_recent_turns", c.KeepRecentTurns}, {"chunk_tokens", c.ChunkTokens}, {"min_chunk_tokens", c.MinChunkTokens},
		{"summary_tokens", c.SummaryTokens}, {"level_tokens", c.LevelTokens}, {"level_fan_in", c.LevelFanIn},
		{"level_summary_tokens", c.LevelSummaryTokens}, {"concurrency", c.Concurrency},
	}
	for _, f := range ints {
		if f.v < 0 {
			return fmt.Errorf("compaction: %s must not be negative, got %d", f.name, f.v)
		}
	}
	durs := []struct {
		name string
		v    time.Duration
	}{
		{"session_gap", c.SessionGap}, {"quiet_after", c.QuietAfter}, {"flush_after", c.FlushAfter}, {"interval", c.Interval},
		{"backoff_min", c.BackoffMin}, {"backoff_max", c.BackoffMax}, {"summarize_timeout", c.SummarizeTimeout},
	}
	for _, f := range durs {
		if f.v < 0 {
			return fmt.Errorf("compaction: %s must not be negative, got %s", f.name, f.v)
		}
	}
	if c.LevelFanIn == 1 {
		return errors.New("compaction: level_fan_in must be at least 2 (a summary of one summary condenses nothing)")
	}
	d := c.withDefaults()
	if d.MinChunkTokens > d.ChunkTokens {
		return fmt.Errorf("compaction: min_chunk_tokens (%d) must not exceed chunk_tokens (%d)", d.MinChunkTokens, d.ChunkTokens)
	}
	if d.BackoffMin > d.BackoffMax {
		return fmt.Errorf("compaction: backoff_min (%s) must not exceed backoff_max (%s)", d.BackoffMin, d.BackoffMax)
	}
	return nil
}

// withDefaults fills every zero field with its default.
func (c Config) withDefaults() Config {
	setInt := func(p *int, d int) {
		if *p == 0 {
			*p = d
		}
	}
	setDur := func(p *time.Duration, d time.Duration) {
		if *p == 0 {
			*p = d
		}
	}
	setInt(&c.KeepRecentTurns, DefaultKeepRecentTurns)
	setDur(&c.SessionGap, DefaultSessionGap)
	setInt(&c.ChunkTokens, DefaultChunkTokens)
	setInt(&c.MinChunkTokens, DefaultMinChunkTokens)
	setDur(&c.QuietAfter, DefaultQuietAfter)
	setDur(&c.FlushAfter, DefaultFlushAfter)
	setInt(&c.SummaryTokens, DefaultSummaryTokens)
	setInt(&c.LevelTokens, DefaultLevelTokens)
	setInt(&c.LevelFanIn, DefaultLevelFanIn)
	setInt(&c.LevelSummaryTokens, DefaultLevelSummaryTokens)
	setDur(&c.Interval, DefaultInterval)
	setInt(&c.Concurrency, DefaultConcurrency)
	setDur(&c.BackoffMin, DefaultBackoffMin)
	setDur(&c.BackoffMax, DefaultBackoffMax)
	setDur(&c.SummarizeTimeout, DefaultSummarizeTimeout)
	return c
}
