package storetest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/memory"
)

// userTests are the subtests of the optional memory.UserDeleter.
func userTests() []struct {
	name string
	fn   func(t *testing.T, s memory.Store)
} {
	return []struct {
		name string
		fn   func(t *testing.T, s memory.Store)
	}{
		{"DeleteUser", withOptional(testDeleteUser)},
		{"DeleteUserInvalid", withOptional(testDeleteUserInvalid)},
	}
}

// withOptional runs fn when the store implements the optional interface I
// and skips the subtest otherwise.
func withOptional[I any](fn func(t *testing.T, s memory.Store, i I)) func(t *testing.T, s memory.Store) {
	return func(t *testing.T, s memory.Store) {
		i, ok := s.(I)
		if !ok {
			var zero *I
			t.Skipf("%T does not implement %T", s, zero)
		}
		fn(t, s, i)
	}
}

// UserFixture creates, in tenant "acme", conversations u1 and u2 of user
// alice (turns appended with idempotency key "k", and a summary when the
// store keeps summaries), b1 of bob and n1 of no user, and u3 of alice in
// tenant "other". Backend tests use it to search their storage after
// DeleteUser.
func UserFixture(t *testing.T, s memory.Store) {
	t.Helper()
	ctx := context.Background()
	for _, c := range []memory.Conversation{
		{ID: "u1", Tenant: tenant, UserID: "alice"},
		{ID: "u2", Tenant: tenant, UserID: "alice"},
		{ID: "b1", Tenant: tenant, UserID: "bob"},
		{ID: "n1", Tenant: tenant},
		{ID: "u3", Tenant: "other", UserID: "alice"},
	} {
		mustCreate(t, s, c)
		_, err := s.AppendTurns(ctx, c.Tenant, c.ID, userTurns("alice-secret-"+c.ID+" one", "alice-secret-"+c.ID+" two"),
			memory.AppendOptions{IdempotencyKey: "k", RequestHash: "h1"})
		require.NoError(t, err)
		if ss, ok := s.(memory.SummaryStore); ok {
			_, err := ss.AddSummary(ctx, c.Tenant, c.ID, sm(0, 1, 2, "alice-secret-"+c.ID+" summary"))
			require.NoError(t, err)
		}
	}
}

func testDeleteUser(t *testing.T, s memory.Store, ud memory.UserDeleter) {
	ctx := context.Background()
	UserFixture(t, s)
	ids, err := ud.DeleteUser(ctx, tenant, "alice")
	require.NoError(t, err)
	require.Equal(t, []string{"u1", "u2"}, ids)

	for _, id := range ids {
		_, err := s.GetConversation(ctx, tenant, id)
		require.ErrorIs(t, err, memory.ErrNotFound, id)
		_, err = s.Turns(ctx, tenant, id, 0, 0)
		require.ErrorIs(t, err, memory.ErrNotFound, id)
		if ss, ok := s.(memory.SummaryStore); ok {
			_, err := ss.Summaries(ctx, tenant, id)
			require.ErrorIs(t, err, memory.ErrNotFound, id)
		}
	}
	left, err := s.ListConversations(ctx, memory.ListOptions{Tenant: tenant})
	require.NoError(t, err)
	require.Equal(t, []string{"b1", "n1"}, convIDs(left), "other users' conversations stay")
	other, err := s.ListConversations(ctx, memory.ListOptions{Tenant: "other", UserID: "alice"})
	require.NoError(t, err)
	require.Equal(t, []string{"u3"}, convIDs(other), "another tenant's alice is another user")
	turns, err := s.Turns(ctx, "other", "u3", 0, 0)
	require.NoError(t, err)
	require.Len(t, turns, 2)

	// The idempotency records went too: the same key with another request
	// on a re-created conversation is a fresh append, not a conflict.
	mustCreate(t, s, memory.Conversation{ID: "u1", UserID: "alice"})
	got, err := s.AppendTurns(ctx, tenant, "u1", userTurns("a new start"), memory.AppendOptions{IdempotencyKey: "k", RequestHash: "h2"})
	require.NoError(t, err)
	require.Equal(t, int64(1), got[0].Seq)
	require.Equal(t, "a new start", got[0].Content)

	// Again: only the re-created one; a user with nothing is no error.
	ids, err = ud.DeleteUser(ctx, tenant, "alice")
	require.NoError(t, err)
	require.Equal(t, []string{"u1"}, ids)
	ids, err = ud.DeleteUser(ctx, tenant, "nobody")
	require.NoError(t, err)
	require.Empty(t, ids)
}

func testDeleteUserInvalid(t *testing.T, s memory.Store, ud memory.UserDeleter) {
	mustCreate(t, s, memory.Conversation{ID: "n1"})
	_, err := ud.DeleteUser(context.Background(), tenant, "")
	require.ErrorIs(t, err, memory.ErrInvalid)
	_, err = s.GetConversation(context.Background(), tenant, "n1")
	require.NoError(t, err, "an invalid call changes nothing")
}

func convIDs(cs []memory.Conversation) []string {
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	return ids
}
