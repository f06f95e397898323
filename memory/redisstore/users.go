package redisstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/longmem/longmem/memory"
)

var _ memory.UserDeleter = (*Store)(nil)

// DeleteUser implements memory.UserDeleter: it lists the tenant's
// conversations of the user, then deletes each with DeleteConversation
// (one script per conversation: a conversation's keys share a hash tag,
// different conversations may live on different cluster nodes). A
// conversation of the user created while it runs may survive it; running
// it again removes that one too.
func (s *Store) DeleteUser(ctx context.Context, tenant, userID string) ([]string, error) {
	if userID == "" {
		return nil, memory.Invalid("user_id", "must not be empty")
	}
	var ids []string
	for after := ""; ; {
		page, err := s.ListConversations(ctx, memory.ListOptions{Tenant: tenant, UserID: userID, After: after, Limit: memory.MaxListLimit})
		if err != nil {
			return nil, fmt.Errorf("redisstore: delete user %q: %w", userID, err)
		}
		if len(page) == 0 {
			break
		}
		for _, c := range page {
			ids = append(ids, c.ID)
		}
		after = page[len(page)-1].ID
	}
	for _, id := range ids {
		if err := s.DeleteConversation(ctx, tenant, id); err != nil && !errors.Is(err, memory.ErrNotFound) {
			return nil, fmt.Errorf("redisstore: delete user %q: %w", userID, err)
		}
	}
	return ids, nil
}
