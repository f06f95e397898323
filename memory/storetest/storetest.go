// Package storetest is the contract suite every memory.Store backend runs.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/memory"
)

// NewStore returns an empty store for one subtest; the suite closes it.
type NewStore func(t *testing.T) memory.Store

// Run runs the contract suite against the backend newStore builds. The
// subtests of memory.SummaryStore run when the store implements it and are
// skipped otherwise.
func Run(t *testing.T, newStore NewStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s memory.Store)
	}{
		{"CreateGet", testCreateGet},
		{"CreateConflict", testCreateConflict},
		{"GetMissing", testGetMissing},
		{"TenantIsolation", testTenantIsolation},
		{"ListPagination", testListPagination},
		{"ListFilters", testListFilters},
		{"DeleteConversation", testDeleteConversation},
		{"AppendAssignsSeq", testAppendAssignsSeq},
		{"AppendKeepsFields", testAppendKeepsFields},
		{"AppendInvalidChangesNothing", testAppendInvalid},
		{"AppendUnknownConversation", testAppendUnknown},
		{"Idempotency", testIdempotency},
		{"ConcurrentAppendsGapless", testConcurrentAppends},
		{"TurnsRange", testTurnsRange},
		{"LastTurns", testLastTurns},
		{"GetTurn", testGetTurn},
		{"DeleteTurn", testDeleteTurn},
		{"Ping", func(t *testing.T, s memory.Store) { require.NoError(t, s.Ping(context.Background())) }},
	}
	// The optional memory.SummaryStore: skipped when the store lacks it.
	tests = append(tests, summaryTests()...)
	// The optional memory.UserDeleter: skipped when the store lacks it.
	tests = append(tests, userTests()...)
	// The optional memory.TurnImporter: skipped when the store lacks it.
	tests = append(tests, transferTests()...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			t.Cleanup(func() { require.NoError(t, s.Close()) })
			tc.fn(t, s)
		})
	}
}

const tenant = "acme"

func mustCreate(t *testing.T, s memory.Store, c memory.Conversation) memory.Conversation {
	t.Helper()
	if c.Tenant == "" {
		c.Tenant = tenant
	}
	got, err := s.CreateConversation(context.Background(), c)
	require.NoError(t, err)
	return got
}

func userTurns(contents ...string) []memory.Turn {
	out := make([]memory.Turn, len(contents))
	for i, c := range contents {
		out[i] = memory.Turn{Role: memory.RoleUser, Content: c, Tokens: len(c)}
	}
	return out
}

func mustAppend(t *testing.T, s memory.Store, id string, turns []memory.Turn) []memory.Turn {
	t.Helper()
	got, err := s.AppendTurns(context.Background(), tenant, id, turns, memory.AppendOptions{})
	require.NoError(t, err)
	return got
}

func seqs(turns []memory.Turn) []int64 {
	out := make([]int64, len(turns))
	for i, tr := range turns {
		out[i] = tr.Seq
	}
	return out
}

func testCreateGet(t *testing.T, s memory.Store) {
	ctx := context.Background()
	before := time.Now().Add(-time.Second)
	c := mustCreate(t, s, memory.Conversation{ID: "c1", BotID: "bot-7", BotVersion: 3, UserID: "u-1",
		Metadata: map[string]any{"topic": "hiking", "n": float64(3), "nested": map[string]any{"a": []any{"x", true}}}})
	require.Equal(t, "c1", c.ID)
	require.Equal(t, tenant, c.Tenant)
	require.True(t, c.CreatedAt.After(before), "created_at set by the store")
	require.Zero(t, c.LastSeq)

	got, err := s.GetConversation(ctx, tenant, "c1")
	require.NoError(t, err)
	require.Equal(t, "bot-7", got.BotID)
	require.Equal(t, 3, got.BotVersion, "the pinned bot version is kept")
	require.Equal(t, "u-1", got.UserID)
	require.Equal(t, c.Metadata, got.Metadata)
	require.True(t, c.CreatedAt.Equal(got.CreatedAt))

	given := time.Date(2023, 5, 8, 13, 56, 0, 0, time.UTC)
	c2 := mustCreate(t, s, memory.Conversation{ID: "c2", CreatedAt: given})
	require.True(t, given.Equal(c2.CreatedAt), "a given created_at is kept")
}

func testCreateConflict(t *testing.T, s memory.Store) {
	mustCreate(t, s, memory.Conversation{ID: "dup", UserID: "first"})
	_, err := s.CreateConversation(context.Background(), memory.Conversation{ID: "dup", Tenant: tenant, UserID: "second"})
	require.ErrorIs(t, err, memory.ErrConflict)
	got, err := s.GetConversation(context.Background(), tenant, "dup")
	require.NoError(t, err)
	require.Equal(t, "first", got.UserID, "a conflicting create changes nothing")
}

func testGetMissing(t *testing.T, s memory.Store) {
	ctx := context.Background()
	_, err := s.GetConversation(ctx, tenant, "nope")
	require.ErrorIs(t, err, memory.ErrNotFound)
	_, err = s.Turns(ctx, tenant, "nope", 0, 10)
	require.ErrorIs(t, err, memory.ErrNotFound)
	_, err = s.LastTurns(ctx, tenant, "nope", 10)
	require.ErrorIs(t, err, memory.ErrNotFound)
	_, err = s.GetTurn(ctx, tenant, "nope", 1)
	require.ErrorIs(t, err, memory.ErrNotFound)
	require.ErrorIs(t, s.DeleteTurn(ctx, tenant, "nope", 1), memory.ErrNotFound)
	require.ErrorIs(t, s.DeleteConversation(ctx, tenant, "nope"), memory.ErrNotFound)
}

func testTenantIsolation(t *testing.T, s memory.Store) {
	ctx := context.Background()
	mustCreate(t, s, memory.Conversation{ID: "shared", Tenant: "a", UserID: "ua"})
	mustCreate(t, s, memory.Conversation{ID: "shared", Tenant: "b", UserID: "ub"})
	mustCreate(t, s, memory.Conversation{ID: "only-a", Tenant: "a"})

	_, err := s.AppendTurns(ctx, "a", "shared", userTurns("for a"), memory.AppendOptions{})
	require.NoError(t, err)
	bt, err := s.Turns(ctx, "b", "shared", 0, 0)
	require.NoError(t, err)
	require.Empty(t, bt, "tenant b does not see tenant a's turns")

	_, err = s.GetConversation(ctx, "b", "only-a")
	require.ErrorIs(t, err, memory.ErrNotFound)
	_, err = s.AppendTurns(ctx, "b", "only-a", userTurns("x"), memory.AppendOptions{})
	require.ErrorIs(t, err, memory.ErrNotFound)
	require.ErrorIs(t, s.DeleteConversation(ctx, "b", "only-a"), memory.ErrNotFound)

	list, err := s.ListConversations(ctx, memory.ListOptions{Tenant: "b"})
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, "ub", list[0].UserID)
}

func testListPagination(t *testing.T, s memory.Store) {
	ctx := context.Background()
	var want []string
	for i := 0; i < 25; i++ {
		id := fmt.Sprintf("conv-%02d", 24-i) // created out of order
		mustCreate(t, s, memory.Conversation{ID: id})
	}
	for i := 0; i < 25; i++ {
		want = append(want, fmt.Sprintf("conv-%02d", i))
	}
	var got []string
	after := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 10)
		page, err := s.ListConversations(ctx, memory.ListOptions{Tenant: tenant, After: after, Limit: 10})
		require.NoError(t, err)
		require.LessOrEqual(t, len(page), 10)
		if len(page) == 0 {
			break
		}
		for _, c := range page {
			got = append(got, c.ID)
		}
		after = page[len(page)-1].ID
	}
	require.Equal(t, want, got, "ascending by id, each once")

	all, err := s.ListConversations(ctx, memory.ListOptions{Tenant: tenant})
	require.NoError(t, err)
	require.Len(t, all, 25, "limit 0 means the default (100)")
}

func testListFilters(t *testing.T, s memory.Store) {
	ctx := context.Background()
	mustCreate(t, s, memory.Conversation{ID: "a", UserID: "u1", BotID: "b1"})
	mustCreate(t, s, memory.Conversation{ID: "b", UserID: "u2", BotID: "b1"})
	mustCreate(t, s, memory.Conversation{ID: "c", UserID: "u1", BotID: "b2"})
	ids := func(opts memory.ListOptions) []string {
		opts.Tenant = tenant
		list, err := s.ListConversations(ctx, opts)
		require.NoError(t, err)
		var out []string
		for _, c := range list {
			out = append(out, c.ID)
		}
		return out
	}
	require.Equal(t, []string{"a", "c"}, ids(memory.ListOptions{UserID: "u1"}))
	require.Equal(t, []string{"a", "b"}, ids(memory.ListOptions{BotID: "b1"}))
	require.Equal(t, []string{"a"}, ids(memory.ListOptions{UserID: "u1", BotID: "b1"}))
	require.Equal(t, []string{"c"}, ids(memory.ListOptions{UserID: "u1", After: "a"}))
	require.Empty(t, ids(memory.ListOptions{UserID: "nobody"}))
}

func testDeleteConversation(t *testing.T, s memory.Store) {
	ctx := context.Background()
	mustCreate(t, s, memory.Conversation{ID: "gone"})
	mustCreate(t, s, memory.Conversation{ID: "kept"})
	_, err := s.AppendTurns(ctx, tenant, "gone", userTurns("a", "b"), memory.AppendOptions{IdempotencyKey: "k1", RequestHash: "h1"})
	require.NoError(t, err)
	mustAppend(t, s, "kept", userTurns("stay"))

	require.NoError(t, s.DeleteConversation(ctx, tenant, "gone"))
	_, err = s.GetConversation(ctx, tenant, "gone")
	require.ErrorIs(t, err, memory.ErrNotFound)
	_, err = s.Turns(ctx, tenant, "gone", 0, 0)
	require.ErrorIs(t, err, memory.ErrNotFound)

	// Recreated under the same id it starts afresh: no turns, no keys.
	mustCreate(t, s, memory.Conversation{ID: "gone"})
	turns, err := s.Turns(ctx, tenant, "gone", 0, 0)
	require.NoError(t, err)
	require.Empty(t, turns)
	got, err := s.AppendTurns(ctx, tenant, "gone", userTurns("other body"), memory.AppendOptions{IdempotencyKey: "k1", RequestHash: "h2"})
	require.NoError(t, err, "idempotency keys went with the conversation")
	require.Equal(t, []int64{1}, seqs(got))

	kept, err := s.Turns(ctx, tenant, "kept", 0, 0)
	require.NoError(t, err)
	require.Len(t, kept, 1)
}

func testAppendAssignsSeq(t *testing.T, s memory.Store) {
	ctx := context.Background()
	mustCreate(t, s, memory.Conversation{ID: "c"})
	before := time.Now().Add(-time.Second)
	first := mustAppend(t, s, "c", userTurns("one", "two", "three"))
	require.Equal(t, []int64{1, 2, 3}, seqs(first))
	for _, tr := range first {
		require.Equal(t, "c", tr.ConversationID)
		require.True(t, tr.CreatedAt.After(before), "created_at defaults to the store's clock")
	}
	second := mustAppend(t, s, "c", userTurns("four"))
	require.Equal(t, []int64{4}, seqs(second))
	conv, err := s.GetConversation(ctx, tenant, "c")
	require.NoError(t, err)
	require.EqualValues(t, 4, conv.LastSeq)
}

func testAppendKeepsFields(t *testing.T, s memory.Store) {
	ctx := context.Background()
	mustCreate(t, s, memory.Conversation{ID: "c"})
	at := time.Date(2023, 5, 8, 13, 56, 7, 123456789, time.UTC)
	in := []memory.Turn{
		{Role: memory.RoleUser, Name: "Odile", Content: "I repainted the rowing boat 🚣 on Sunday.", CreatedAt: at, Tokens: 11,
			Metadata: map[string]any{"photo": "a green boat on a trailer", "ref": "s1:3"}},
		{Role: memory.RoleAssistant, Content: "楼下的面包店七点开门。", Tokens: 9},
		{Role: memory.RoleSystem, Content: "sys", Tokens: 1},
		{Role: memory.RoleTool, Name: "search", Content: `{"ok":true}`, Tokens: 4},
	}
	out := mustAppend(t, s, "c", in)
	stored, err := s.Turns(ctx, tenant, "c", 0, 0)
	require.NoError(t, err)
	require.Len(t, stored, 4)
	for i := range in {
		for _, got := range []memory.Turn{out[i], stored[i]} {
			require.Equal(t, in[i].Role, got.Role)
			require.Equal(t, in[i].Name, got.Name)
			require.Equal(t, in[i].Content, got.Content)
			require.Equal(t, in[i].Tokens, got.Tokens)
			require.Equal(t, in[i].Metadata, got.Metadata)
		}
	}
	require.True(t, at.Equal(stored[0].CreatedAt), "a client's created_at is kept to the nanosecond: %v", stored[0].CreatedAt)
	require.Equal(t, out[1].CreatedAt.UnixNano(), stored[1].CreatedAt.UnixNano())
}

func testAppendInvalid(t *testing.T, s memory.Store) {
	ctx := context.Background()
	mustCreate(t, s, memory.Conversation{ID: "c"})
	mustAppend(t, s, "c", userTurns("ok"))
	for name, turns := range map[string][]memory.Turn{
		"empty batch":   nil,
		"unknown role":  {{Role: memory.RoleUser, Content: "fine"}, {Role: "robot", Content: "x"}},
		"empty content": {{Role: memory.RoleUser, Content: "fine"}, {Role: memory.RoleUser}},
		"too many":      make([]memory.Turn, memory.MaxAppendTurns+1),
	} {
		_, err := s.AppendTurns(ctx, tenant, "c", turns, memory.AppendOptions{})
		require.ErrorIs(t, err, memory.ErrInvalid, name)
	}
	all, err := s.Turns(ctx, tenant, "c", 0, 0)
	require.NoError(t, err)
	require.Len(t, all, 1, "rejected appends wrote nothing")
	next := mustAppend(t, s, "c", userTurns("next"))
	require.Equal(t, []int64{2}, seqs(next), "rejected appends consumed no seq")
}

func testAppendUnknown(t *testing.T, s memory.Store) {
	_, err := s.AppendTurns(context.Background(), tenant, "ghost", userTurns("x"), memory.AppendOptions{})
	require.ErrorIs(t, err, memory.ErrNotFound)
}

func testIdempotency(t *testing.T, s memory.Store) {
	ctx := context.Background()
	mustCreate(t, s, memory.Conversation{ID: "c"})
	mustCreate(t, s, memory.Conversation{ID: "other"})
	opts := memory.AppendOptions{IdempotencyKey: "key-1", RequestHash: "hash-a"}
	first, err := s.AppendTurns(ctx, tenant, "c", userTurns("a", "b"), opts)
	require.NoError(t, err)
	again, err := s.AppendTurns(ctx, tenant, "c", userTurns("a", "b"), opts)
	require.NoError(t, err)
	require.Equal(t, seqs(first), seqs(again), "a retry returns the original seqs")
	require.Equal(t, first[0].Content, again[0].Content)
	require.True(t, first[0].CreatedAt.Equal(again[0].CreatedAt))

	_, err = s.AppendTurns(ctx, tenant, "c", userTurns("changed"), memory.AppendOptions{IdempotencyKey: "key-1", RequestHash: "hash-b"})
	require.ErrorIs(t, err, memory.ErrConflict)

	all, err := s.Turns(ctx, tenant, "c", 0, 0)
	require.NoError(t, err)
	require.Len(t, all, 2, "retries wrote nothing")

	// Keys are scoped to their conversation.
	o, err := s.AppendTurns(ctx, tenant, "other", userTurns("x"), memory.AppendOptions{IdempotencyKey: "key-1", RequestHash: "hash-z"})
	require.NoError(t, err)
	require.Equal(t, []int64{1}, seqs(o))

	// Concurrent retries of one key: exactly one write.
	var wg sync.WaitGroup
	results := make([][]int64, 8)
	errs := make([]error, 8)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := s.AppendTurns(ctx, tenant, "c", userTurns("r"), memory.AppendOptions{IdempotencyKey: "key-2", RequestHash: "h"})
			results[i], errs[i] = seqs(got), err
		}()
	}
	wg.Wait()
	for i := range results {
		require.NoError(t, errs[i])
		require.Equal(t, []int64{3}, results[i])
	}
	all, err = s.Turns(ctx, tenant, "c", 0, 0)
	require.NoError(t, err)
	require.Len(t, all, 3)
}

func testConcurrentAppends(t *testing.T, s memory.Store) {
	ctx := context.Background()
	mustCreate(t, s, memory.Conversation{ID: "c"})
	const writers, each = 16, 20
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				batch := userTurns(fmt.Sprintf("w%d-%d-a", w, i))
				if i%3 == 0 {
					batch = append(batch, userTurns(fmt.Sprintf("w%d-%d-b", w, i))...)
				}
				got, err := s.AppendTurns(ctx, tenant, "c", batch, memory.AppendOptions{})
				if err == nil && len(got) == 2 && got[1].Seq != got[0].Seq+1 {
					err = errors.New("a batch's seqs are not consecutive")
				}
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	all, err := s.Turns(ctx, tenant, "c", 0, 0)
	require.NoError(t, err)
	seen := map[string]bool{}
	for i, tr := range all {
		require.EqualValues(t, i+1, tr.Seq, "gapless")
		require.False(t, seen[tr.Content], "each turn once")
		seen[tr.Content] = true
	}
	require.Len(t, all, writers*each+writers*7)
}

func testTurnsRange(t *testing.T, s memory.Store) {
	ctx := context.Background()
	mustCreate(t, s, memory.Conversation{ID: "c"})
	var contents []string
	for i := 1; i <= 30; i++ {
		contents = append(contents, fmt.Sprintf("t%d", i))
	}
	mustAppend(t, s, "c", userTurns(contents...))
	for _, tc := range []struct {
		after int64
		limit int
		want  []int64
	}{
		{0, 3, []int64{1, 2, 3}},
		{10, 2, []int64{11, 12}},
		{28, 10, []int64{29, 30}},
		{30, 10, []int64{}},
		{100, 10, []int64{}},
	} {
		got, err := s.Turns(ctx, tenant, "c", tc.after, tc.limit)
		require.NoError(t, err)
		require.Equal(t, tc.want, seqs(got), "after=%d limit=%d", tc.after, tc.limit)
	}
	all, err := s.Turns(ctx, tenant, "c", 0, 0)
	require.NoError(t, err)
	require.Len(t, all, 30)
	require.Equal(t, "t30", all[29].Content)
}

func testLastTurns(t *testing.T, s memory.Store) {
	ctx := context.Background()
	mustCreate(t, s, memory.Conversation{ID: "c"})
	empty, err := s.LastTurns(ctx, tenant, "c", 5)
	require.NoError(t, err)
	require.Empty(t, empty)
	mustAppend(t, s, "c", userTurns("1", "2", "3", "4", "5", "6"))
	got, err := s.LastTurns(ctx, tenant, "c", 3)
	require.NoError(t, err)
	require.Equal(t, []int64{4, 5, 6}, seqs(got))
	require.NoError(t, s.DeleteTurn(ctx, tenant, "c", 5))
	got, err = s.LastTurns(ctx, tenant, "c", 3)
	require.NoError(t, err)
	require.Equal(t, []int64{3, 4, 6}, seqs(got), "skips forgotten turns")
	got, err = s.LastTurns(ctx, tenant, "c", 100)
	require.NoError(t, err)
	require.Len(t, got, 5)
}

func testGetTurn(t *testing.T, s memory.Store) {
	ctx := context.Background()
	mustCreate(t, s, memory.Conversation{ID: "c"})
	mustAppend(t, s, "c", userTurns("a", "b"))
	tr, err := s.GetTurn(ctx, tenant, "c", 2)
	require.NoError(t, err)
	require.Equal(t, "b", tr.Content)
	require.EqualValues(t, 2, tr.Seq)
	for _, seq := range []int64{0, 3, -1} {
		_, err = s.GetTurn(ctx, tenant, "c", seq)
		require.ErrorIs(t, err, memory.ErrNotFound, "seq %d", seq)
	}
}

func testDeleteTurn(t *testing.T, s memory.Store) {
	ctx := context.Background()
	mustCreate(t, s, memory.Conversation{ID: "c"})
	mustAppend(t, s, "c", userTurns("a", "secret", "c"))
	require.NoError(t, s.DeleteTurn(ctx, tenant, "c", 2))
	_, err := s.GetTurn(ctx, tenant, "c", 2)
	require.ErrorIs(t, err, memory.ErrNotFound)
	require.ErrorIs(t, s.DeleteTurn(ctx, tenant, "c", 2), memory.ErrNotFound)
	all, err := s.Turns(ctx, tenant, "c", 0, 0)
	require.NoError(t, err)
	require.Equal(t, []int64{1, 3}, seqs(all))
	got := mustAppend(t, s, "c", userTurns("d"))
	require.Equal(t, []int64{4}, seqs(got), "a forgotten seq is never reused")
	conv, err := s.GetConversation(ctx, tenant, "c")
	require.NoError(t, err)
	require.EqualValues(t, 4, conv.LastSeq)
}
