package memory

import (
	"context"
	"math"
	"time"
)

// Summary condenses a contiguous range of a conversation. Level 0 covers
// turns FromSeq..ToSeq (inclusive); level k+1 covers consecutive level-k
// summaries, and its FromSeq..ToSeq is the turn range they cover together.
// At each level, summaries form one gapless chain from the conversation's
// first turn: the next summary of a level starts right after the last one's
// ToSeq (deleted turns inside a range are simply absent from it).
type Summary struct {
	ConversationID string `json:"conversation_id"`
	Level          int    `json:"level"`
	FromSeq        int64  `json:"from_seq"`
	ToSeq          int64  `json:"to_seq"`
	// FromTime and ToTime are the created_at of the first and last turn
	// covered: the date range the summary speaks of.
	FromTime time.Time `json:"from_time"`
	ToTime   time.Time `json:"to_time"`
	Content  string    `json:"content"`
	Tokens   int       `json:"tokens"` // content tokens, counted by the caller
	// CreatedAt is set by the store when the summary is written.
	CreatedAt time.Time `json:"created_at"`
	// Producer names what wrote it, e.g. "extractive" or "llm:qwen3-30b-a3b".
	Producer string `json:"producer"`
	// Stale is set by the store when a turn in the range is forgotten
	// (DeleteTurn); the summary must be rebuilt without it.
	Stale bool `json:"stale,omitempty"`
	// TurnSeqs, given to AddSummary and ReplaceSummary (never stored or
	// returned), are the seqs of the turns the content was written from.
	// The store checks each still exists in the same atomic step as the
	// write: a turn forgotten after it was read for the summary would
	// otherwise live on in the summary's words, with nothing marked stale.
	TurnSeqs []int64 `json:"-"`
}

// SummaryStore is the optional ability of a Store to keep summaries. Both
// built-in backends have it; check with a type assertion. Summaries go with
// their conversation on DeleteConversation, and DeleteTurn marks every
// summary whose range holds the turn Stale in the same atomic step.
type SummaryStore interface {
	// AddSummary appends s to the chain of its level. It is atomic and
	// idempotent-safe: s.FromSeq must be 1 for the first summary of a level
	// and the previous summary's ToSeq+1 otherwise, else ErrConflict (a
	// rerun of a job that already wrote its summary gets ErrConflict and
	// changes nothing). ToSeq >= FromSeq, Level >= 0 and non-empty Content,
	// else ErrInvalid. A seq of s.TurnSeqs whose turn no longer exists is
	// ErrConflict too, and nothing is written. Returns the summary as
	// stored (CreatedAt set, TurnSeqs nil).
	AddSummary(ctx context.Context, tenant, id string, s Summary) (Summary, error)
	// ReplaceSummary rewrites the summary of the same Level and FromSeq
	// (ToSeq must match too, else ErrConflict; missing is ErrNotFound),
	// clearing Stale. s.TurnSeqs are checked as by AddSummary.
	ReplaceSummary(ctx context.Context, tenant, id string, s Summary) (Summary, error)
	// Summaries returns every summary of the conversation ordered by Level,
	// then FromSeq.
	Summaries(ctx context.Context, tenant, id string) ([]Summary, error)
}

// ValidateSummary checks what every backend's AddSummary and ReplaceSummary
// require before anything is read or written: level 0..MaxInt32 (the
// backends' key layouts hold 32 bits), FromSeq >= 1, ToSeq >= FromSeq and
// non-empty content.
func ValidateSummary(s Summary) error {
	switch {
	case s.Level < 0:
		return Invalid("level", "must not be negative (got %d)", s.Level)
	case s.Level > math.MaxInt32:
		return Invalid("level", "must be at most %d (got %d)", math.MaxInt32, s.Level)
	case s.FromSeq < 1:
		return Invalid("from_seq", "must be at least 1 (got %d)", s.FromSeq)
	case s.ToSeq < s.FromSeq:
		return Invalid("to_seq", "%d is before from_seq %d", s.ToSeq, s.FromSeq)
	case s.Content == "":
		return Invalid("content", "must not be empty")
	}
	return nil
}
