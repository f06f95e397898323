package api

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"github.com/longmem/longmem/memory"
)

// deleteUserResponse lists what DELETE /v1/users/{user_id} removed.
type deleteUserResponse struct {
	UserID        string   `json:"user_id"`
	Conversations []string `json:"conversations"` // ids, ascending
}

// userParam is the path's user id: as stored in conversations' user_id
// (any text up to maxLabelBytes, percent-encoded in the path).
func userParam(c echo.Context) (string, error) {
	raw := c.Param("user_id")
	id := raw
	if c.Request().URL.RawPath != "" { // the router matched the escaped path
		var err error
		if id, err = url.PathUnescape(raw); err != nil {
			return "", memory.Invalid("user_id", "%q is not a valid path segment: %v", raw, err)
		}
	}
	if id == "" {
		return "", memory.Invalid("user_id", "must not be empty")
	}
	if len(id) > maxLabelBytes {
		return "", memory.Invalid("user_id", "is %d bytes; the maximum is %d", len(id), maxLabelBytes)
	}
	return id, nil
}

// deleteUser forgets a user: every conversation of the tenant whose
// user_id it is, with its turns, summaries and idempotency records, and
// their index entries. Index entries are dropped before the store deletes
// (so a failure leaves nothing recallable that the store still lists as
// deleted) and again after (anything indexed in between).
func (s *Server) deleteUser(c echo.Context) error {
	userID, err := userParam(c)
	if err != nil {
		return err
	}
	ud, ok := s.deps.Store.(memory.UserDeleter)
	if !ok {
		return echo.NewHTTPError(http.StatusNotImplemented, "this storage backend cannot delete a user")
	}
	ctx := c.Request().Context()
	drop := func(ids []string) error {
		for _, id := range ids {
			if err := s.deps.Indexer.Drop(ctx, tenant(c), id); err != nil {
				return fmt.Errorf("api: delete user: index entries of conversation %q: %w", id, err)
			}
		}
		return nil
	}
	var listed []string
	for after := ""; ; {
		page, err := s.store.ListConversations(ctx, memory.ListOptions{Tenant: tenant(c), UserID: userID, After: after, Limit: memory.MaxListLimit})
		if err != nil {
			return err
		}
		if len(page) == 0 {
			break
		}
		for _, conv := range page {
			listed = append(listed, conv.ID)
		}
		after = page[len(page)-1].ID
	}
	if err := drop(listed); err != nil {
		return err
	}
	ids, err := ud.DeleteUser(ctx, tenant(c), userID)
	if err != nil {
		return err
	}
	if err := drop(ids); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, deleteUserResponse{UserID: userID, Conversations: append([]string{}, ids...)})
}
