package memory

import "context"

// UserDeleter is the optional ability of a Store to forget a user: every
// conversation of the tenant whose UserID is the user's, with its turns,
// summaries and idempotency records. Callers check for it by type
// assertion.
type UserDeleter interface {
	// DeleteUser deletes every conversation of (tenant, userID) and
	// returns their ids, ascending. A user with no conversation is not an
	// error: the list is empty. An empty userID is ErrInvalid (it would
	// name every conversation without a user).
	DeleteUser(ctx context.Context, tenant, userID string) ([]string, error)
}
