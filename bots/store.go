package bots

import (
	"context"
	"errors"
	"strings"
	"time"
)

// ErrPrecondition: an update named a version (If-Match) that is no longer
// the latest — another update won. Nothing was written. The API answers
// 412 precondition_failed.
var ErrPrecondition = errors.New("precondition failed")

// ErrAmbiguous: a name given for a bot is the name of several bots. It
// comes in a *ConflictError (so memory.ErrConflict too): the API answers
// 409 with the ids.
var ErrAmbiguous = errors.New("ambiguous bot name")

// Store keeps bots and every version of them. A bot's identity is (tenant,
// id); another tenant's bot is ErrNotFound. Versions are immutable: an
// update stores a new one (the latest plus one), never changes an old one.
// Implementations are safe for concurrent use and return the sentinels
// memory.ErrNotFound, memory.ErrConflict, memory.ErrInvalid (a
// *memory.InvalidError from Validate) and ErrPrecondition, wrapped.
type Store interface {
	// Create stores b as version 1 of a new bot in tenant (b.Tenant is
	// ignored): Validate must pass (b.ID set); Version, Author (author),
	// CreatedAt and UpdatedAt are set by the store. memory.ErrConflict when
	// the id is taken in the tenant.
	Create(ctx context.Context, tenant string, b Bot, author string) (Bot, error)
	// Get returns the latest version.
	Get(ctx context.Context, tenant, id string) (Bot, error)
	// GetVersion returns version v as it was stored (memory.ErrNotFound for
	// a version that never existed).
	GetVersion(ctx context.Context, tenant, id string, version int) (Bot, error)
	// Versions lists every version, ascending.
	Versions(ctx context.Context, tenant, id string) ([]VersionInfo, error)
	// List returns up to opts.Limit latest versions with ID > opts.After
	// that match opts.Q (see Matches), ascending by ID.
	List(ctx context.Context, opts ListOptions) ([]Bot, error)
	// Update stores b (whole: it replaces every field) as the next version
	// of bot b.ID and returns it. With ifVersion > 0 the update happens only
	// if ifVersion is the latest version, else ErrPrecondition; with 0 it is
	// unconditional. Validate must pass. Version, Author (author),
	// UpdatedAt are set by the store, CreatedAt is the bot's.
	Update(ctx context.Context, tenant string, b Bot, ifVersion int, author string) (Bot, error)
	// Delete removes the bot with all its versions; its id may be used
	// again (starting at version 1).
	Delete(ctx context.Context, tenant, id string) error
	// Close releases the store's resources.
	Close() error
}

// VersionInfo describes one stored version of a bot.
type VersionInfo struct {
	Version int    `json:"version"`
	Author  string `json:"author"`
	// CreatedAt is when the version was stored (the Bot's UpdatedAt).
	CreatedAt time.Time `json:"created_at"`
}

// ListOptions selects bots of one tenant, ascending by ID.
type ListOptions struct {
	Tenant string
	// Q, when not empty, keeps the bots it matches (see Matches).
	Q string
	// After is an exclusive cursor: only IDs greater than After.
	After string
	// Limit is 1..memory.MaxListLimit; 0 means memory.DefaultListLimit.
	Limit int
}

// Matches reports whether q is a case-insensitive substring of b's name,
// description or one of its tags. An empty q matches every bot.
func Matches(b Bot, q string) bool {
	if q == "" {
		return true
	}
	q = strings.ToLower(q)
	if strings.Contains(strings.ToLower(b.Name), q) || strings.Contains(strings.ToLower(b.Description), q) {
		return true
	}
	for _, t := range b.Tags {
		if strings.Contains(strings.ToLower(t), q) {
			return true
		}
	}
	return false
}

// NewVersion stamps b as version `version` of its bot for a store: b.Tenant
// = tenant, Author = author, UpdatedAt = now (UTC) and CreatedAt = created
// (now for version 1). It validates b first. Stores call it so that every
// backend stamps alike.
func NewVersion(b Bot, tenant string, version int, author string, created, now time.Time) (Bot, error) {
	if err := Validate(b); err != nil {
		return Bot{}, err
	}
	now = now.UTC()
	if version == 1 || created.IsZero() {
		created = now
	}
	b.Tenant = tenant
	b.Version = version
	b.Author = author
	b.CreatedAt = created.UTC()
	b.UpdatedAt = now
	return b, nil
}
