// Package memory defines longmem's domain types (conversations, turns), the
// Store contract every storage backend implements, and its sentinel errors.
package memory

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Sentinel errors of the Store contract. Backends wrap them with context
// (fmt.Errorf("...: %w", ErrNotFound)); callers test with errors.Is.
var (
	// ErrNotFound: the conversation or turn does not exist (or belongs to
	// another tenant, which callers must not be able to tell apart).
	ErrNotFound = errors.New("not found")
	// ErrConflict: the conversation id is taken, or an idempotency key was
	// reused with a different request.
	ErrConflict = errors.New("conflict")
	// ErrInvalid: the input breaks a rule of the contract (empty content,
	// unknown role, ...). Backends validate before writing anything.
	ErrInvalid = errors.New("invalid")
	// ErrUnavailable: the storage cannot serve the call right now — not
	// reachable, loading, timing out, or out of space — and the same call
	// may succeed later. A write that failed before it reached the storage
	// changed nothing; one whose connection broke after sending (a timeout)
	// may still take effect, so writes are retried with the same
	// idempotency key. Backends wrap their driver's error with it at their
	// edge (see Unavailable).
	ErrUnavailable = errors.New("storage unavailable")
)

// UnavailableError is a storage failure that a later retry may not see. It
// unwraps both to ErrUnavailable and to the backend's own error (for logs);
// its Error text is the backend's.
type UnavailableError struct{ Err error }

func (e *UnavailableError) Error() string { return e.Err.Error() }

// Unwrap makes errors.Is(err, ErrUnavailable) hold and keeps the cause.
func (e *UnavailableError) Unwrap() []error { return []error{ErrUnavailable, e.Err} }

// Unavailable wraps err as an *UnavailableError (nil stays nil).
func Unavailable(err error) error {
	if err == nil {
		return nil
	}
	return &UnavailableError{Err: err}
}

// Role of a turn's author, in the OpenAI chat vocabulary.
type Role string

// The roles a turn may have.
const (
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
	RoleSystem    Role = "system"
	RoleTool      Role = "tool"
)

// Valid reports whether r is one of the four known roles.
func (r Role) Valid() bool {
	switch r {
	case RoleUser, RoleAssistant, RoleSystem, RoleTool:
		return true
	}
	return false
}

// Conversation is one persona-bot conversation. Its identity is the pair
// (Tenant, ID): two tenants may use the same ID without seeing each other.
type Conversation struct {
	ID     string `json:"id"`
	Tenant string `json:"tenant"`
	BotID  string `json:"bot_id,omitempty"`
	// BotVersion pins the conversation to one version of its bot; 0 follows
	// the bot's latest version.
	BotVersion int            `json:"bot_version,omitempty"`
	UserID     string         `json:"user_id,omitempty"`
	CreatedAt  time.Time      `json:"created_at"`
	Metadata   map[string]any `json:"metadata,omitempty"`
	// LastSeq is the highest seq ever assigned in the conversation (0 when
	// it has no turns). Deleted turns leave gaps; seqs are never reused.
	LastSeq int64 `json:"last_seq"`
}

// Turn is one message of a conversation.
type Turn struct {
	ConversationID string `json:"conversation_id"`
	// Seq is assigned by the store: 1, 2, 3 … per conversation, gapless at
	// assignment, in commit order.
	Seq     int64  `json:"seq"`
	Role    Role   `json:"role"`
	Name    string `json:"name,omitempty"`
	Content string `json:"content"`
	// CreatedAt is the client's time when given, else the store's clock.
	CreatedAt time.Time `json:"created_at"`
	// Tokens is the content's length in tokens of the configured tokenizer,
	// counted once by the caller before the append and stored as given.
	Tokens   int            `json:"tokens"`
	Metadata map[string]any `json:"metadata,omitempty"`
}

// ListOptions selects conversations of one tenant, in ascending ID order.
type ListOptions struct {
	Tenant string
	UserID string // optional filter
	BotID  string // optional filter
	After  string // exclusive cursor: return IDs greater than After
	Limit  int    // 1..1000; 0 means 100
}

// AppendOptions carries the idempotency key of an append.
type AppendOptions struct {
	// IdempotencyKey, when not empty, makes the append happen at most once:
	// a retry with the same key and RequestHash returns the original turns
	// and writes nothing; the same key with another RequestHash fails with
	// ErrConflict. Keys are kept at least the store's idempotency TTL.
	IdempotencyKey string
	// RequestHash identifies the request body (any stable digest).
	RequestHash string
}

// Store is the durable home of conversations and turns. Implementations are
// safe for concurrent use. Every method returns ErrNotFound (wrapped) for an
// unknown conversation; none returns a zero value with a nil error for a
// missing item.
type Store interface {
	// CreateConversation stores c (ID and Tenant set by the caller;
	// CreatedAt set by the store when zero). ErrConflict when the ID exists.
	CreateConversation(ctx context.Context, c Conversation) (Conversation, error)
	GetConversation(ctx context.Context, tenant, id string) (Conversation, error)
	// ListConversations returns up to opts.Limit conversations with ID >
	// opts.After, ascending by ID.
	ListConversations(ctx context.Context, opts ListOptions) ([]Conversation, error)
	// DeleteConversation removes the conversation, its turns and its
	// idempotency records.
	DeleteConversation(ctx context.Context, tenant, id string) error

	// AppendTurns stores turns atomically (all or none), assigning
	// consecutive seqs after the conversation's LastSeq, and returns them as
	// stored. On return with a nil error the turns are durable.
	AppendTurns(ctx context.Context, tenant, id string, turns []Turn, opts AppendOptions) ([]Turn, error)
	// Turns returns up to limit turns with seq > afterSeq in ascending seq
	// order (limit <= 0 means all).
	Turns(ctx context.Context, tenant, id string, afterSeq int64, limit int) ([]Turn, error)
	// LastTurns returns the n turns with the highest seqs, ascending.
	LastTurns(ctx context.Context, tenant, id string, n int) ([]Turn, error)
	GetTurn(ctx context.Context, tenant, id string, seq int64) (Turn, error)
	// DeleteTurn forgets one turn; its seq is never reused.
	DeleteTurn(ctx context.Context, tenant, id string, seq int64) error

	// Ping reports whether the storage is reachable.
	Ping(ctx context.Context) error
	Close() error
}

// Limits of the contract shared by every backend.
const (
	MaxListLimit     = 1000
	DefaultListLimit = 100
	MaxAppendTurns   = 1000
	// DefaultIdempotencyTTL is how long idempotency keys are kept at least.
	DefaultIdempotencyTTL = 24 * time.Hour
)

// InvalidError says which field of the input is wrong and why. It unwraps
// to ErrInvalid.
type InvalidError struct {
	Field   string // JSON path of the offending field, e.g. "turns[2].role"
	Message string
}

func (e *InvalidError) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// Unwrap makes errors.Is(err, ErrInvalid) hold.
func (e *InvalidError) Unwrap() error { return ErrInvalid }

// Invalid builds an *InvalidError.
func Invalid(field, format string, args ...any) error {
	return &InvalidError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// ValidateTurns checks what every backend requires of turns to append:
// 1..MaxAppendTurns turns, known roles, non-empty content. Backends call it
// before writing anything so that a bad batch changes nothing.
func ValidateTurns(turns []Turn) error {
	if len(turns) == 0 {
		return Invalid("turns", "no turns to append")
	}
	if len(turns) > MaxAppendTurns {
		return Invalid("turns", "%d turns in one append; the maximum is %d", len(turns), MaxAppendTurns)
	}
	for i, t := range turns {
		if !t.Role.Valid() {
			return Invalid(fmt.Sprintf("turns[%d].role", i), "unknown role %q (want user, assistant, system or tool)", t.Role)
		}
		if t.Content == "" {
			return Invalid(fmt.Sprintf("turns[%d].content", i), "must not be empty")
		}
	}
	return nil
}

// NormalizeListLimit maps 0 to the default and clamps to MaxListLimit.
func NormalizeListLimit(n int) int {
	if n <= 0 {
		return DefaultListLimit
	}
	if n > MaxListLimit {
		return MaxListLimit
	}
	return n
}
