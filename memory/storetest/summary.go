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

// summaryTests are the subtests of the optional memory.SummaryStore.
func summaryTests() []struct {
	name string
	fn   func(t *testing.T, s memory.Store)
} {
	return []struct {
		name string
		fn   func(t *testing.T, s memory.Store)
	}{
		{"SummaryFirstStartsAtOne", withSummaries(testSummaryFirst)},
		{"SummaryChainContiguous", withSummaries(testSummaryChain)},
		{"SummaryRerunConflictChangesNothing", withSummaries(testSummaryRerun)},
		{"SummaryLevelsIndependent", withSummaries(testSummaryLevels)},
		{"SummaryInvalid", withSummaries(testSummaryInvalid)},
		{"SummaryUnknownConversation", withSummaries(testSummaryUnknown)},
		{"SummariesOrderAndFields", withSummaries(testSummariesOrder)},
		{"ReplaceSummary", withSummaries(testReplaceSummary)},
		{"DeleteTurnMarksSummariesStale", withSummaries(testDeleteTurnStale)},
		{"DeleteConversationRemovesSummaries", withSummaries(testDeleteConversationSummaries)},
		{"ConcurrentAddSummary", withSummaries(testConcurrentAddSummary)},
		{"SummaryTurnsMustExist", withSummaries(testSummaryTurnsMustExist)},
	}
}

// withSummaries runs fn when s implements memory.SummaryStore and skips the
// subtest otherwise.
func withSummaries(fn func(t *testing.T, s memory.Store, ss memory.SummaryStore)) func(t *testing.T, s memory.Store) {
	return func(t *testing.T, s memory.Store) {
		ss, ok := s.(memory.SummaryStore)
		if !ok {
			t.Skipf("%T does not implement memory.SummaryStore", s)
		}
		fn(t, s, ss)
	}
}

// sm is a valid summary of turns from..to at level.
func sm(level int, from, to int64, content string) memory.Summary {
	return memory.Summary{Level: level, FromSeq: from, ToSeq: to, Content: content, Tokens: len(content), Producer: "test"}
}

func mustAddSummary(t *testing.T, ss memory.SummaryStore, id string, s memory.Summary) memory.Summary {
	t.Helper()
	got, err := ss.AddSummary(context.Background(), tenant, id, s)
	require.NoError(t, err, "add level %d %d..%d", s.Level, s.FromSeq, s.ToSeq)
	return got
}

func mustSummaries(t *testing.T, ss memory.SummaryStore, id string) []memory.Summary {
	t.Helper()
	got, err := ss.Summaries(context.Background(), tenant, id)
	require.NoError(t, err)
	return got
}

// span names a summary by its level and range, for comparing lists.
type span struct {
	Level    int
	From, To int64
}

func spans(sums []memory.Summary) []span {
	out := make([]span, len(sums))
	for i, s := range sums {
		out[i] = span{s.Level, s.FromSeq, s.ToSeq}
	}
	return out
}

func staleSpans(sums []memory.Summary) []span {
	out := []span{}
	for _, s := range sums {
		if s.Stale {
			out = append(out, span{s.Level, s.FromSeq, s.ToSeq})
		}
	}
	return out
}

func contents(sums []memory.Summary) []string {
	out := make([]string, len(sums))
	for i, s := range sums {
		out[i] = s.Content
	}
	return out
}

func testSummaryFirst(t *testing.T, s memory.Store, ss memory.SummaryStore) {
	ctx := context.Background()
	mustCreate(t, s, memory.Conversation{ID: "c"})
	mustAppend(t, s, "c", userTurns("1", "2", "3", "4", "5"))
	for _, from := range []int64{2, 3} {
		_, err := ss.AddSummary(ctx, tenant, "c", sm(0, from, 5, "late start"))
		require.ErrorIs(t, err, memory.ErrConflict, "a level's first summary starting at %d", from)
	}
	require.Empty(t, mustSummaries(t, ss, "c"), "conflicts wrote nothing")
	mustAddSummary(t, ss, "c", sm(0, 1, 3, "first"))
	require.Equal(t, []span{{0, 1, 3}}, spans(mustSummaries(t, ss, "c")))
}

func testSummaryChain(t *testing.T, s memory.Store, ss memory.SummaryStore) {
	ctx := context.Background()
	mustCreate(t, s, memory.Conversation{ID: "c"})
	mustAppend(t, s, "c", userTurns("1", "2", "3", "4", "5", "6", "7", "8", "9", "10"))
	mustAddSummary(t, ss, "c", sm(0, 1, 4, "a"))
	for _, tc := range []struct {
		from, to int64
		why      string
	}{
		{6, 8, "a gap after the previous ToSeq"},
		{4, 8, "overlaps the previous summary"},
		{1, 4, "the same range again"},
		{1, 8, "restarts the chain"},
	} {
		_, err := ss.AddSummary(ctx, tenant, "c", sm(0, tc.from, tc.to, "bad"))
		require.ErrorIs(t, err, memory.ErrConflict, tc.why)
	}
	mustAddSummary(t, ss, "c", sm(0, 5, 5, "one turn"))
	mustAddSummary(t, ss, "c", sm(0, 6, 10, "c"))
	_, err := ss.AddSummary(ctx, tenant, "c", sm(0, 6, 12, "behind"))
	require.ErrorIs(t, err, memory.ErrConflict)
	got := mustSummaries(t, ss, "c")
	require.Equal(t, []span{{0, 1, 4}, {0, 5, 5}, {0, 6, 10}}, spans(got))
	require.Equal(t, []string{"a", "one turn", "c"}, contents(got))
}

func testSummaryRerun(t *testing.T, s memory.Store, ss memory.SummaryStore) {
	ctx := context.Background()
	mustCreate(t, s, memory.Conversation{ID: "c"})
	mustAppend(t, s, "c", userTurns("1", "2", "3", "4", "5", "6"))
	first := mustAddSummary(t, ss, "c", sm(0, 1, 3, "original"))
	second := mustAddSummary(t, ss, "c", sm(0, 4, 6, "next"))
	before := mustSummaries(t, ss, "c")

	// A job that already wrote its summary runs again, with other output.
	for _, rerun := range []memory.Summary{sm(0, 1, 3, "rewritten"), sm(0, 4, 6, "rewritten"), second} {
		_, err := ss.AddSummary(ctx, tenant, "c", rerun)
		require.ErrorIs(t, err, memory.ErrConflict, "rerun of %d..%d", rerun.FromSeq, rerun.ToSeq)
	}
	after := mustSummaries(t, ss, "c")
	require.Equal(t, spans(before), spans(after))
	require.Equal(t, []string{"original", "next"}, contents(after), "a rerun changes nothing")
	require.True(t, first.CreatedAt.Equal(after[0].CreatedAt))
	require.True(t, second.CreatedAt.Equal(after[1].CreatedAt))
}

func testSummaryLevels(t *testing.T, s memory.Store, ss memory.SummaryStore) {
	ctx := context.Background()
	mustCreate(t, s, memory.Conversation{ID: "c"})
	mustAppend(t, s, "c", userTurns("1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"))
	mustAddSummary(t, ss, "c", sm(0, 1, 4, "l0 a"))
	mustAddSummary(t, ss, "c", sm(0, 5, 8, "l0 b"))
	// Each level has its own chain, starting at 1.
	_, err := ss.AddSummary(ctx, tenant, "c", sm(1, 9, 12, "l1 late"))
	require.ErrorIs(t, err, memory.ErrConflict, "level 1 starts at 1 whatever level 0 holds")
	mustAddSummary(t, ss, "c", sm(1, 1, 8, "l1 a"))
	mustAddSummary(t, ss, "c", sm(2, 1, 8, "l2 a"))
	// Level 0 continues after its own last ToSeq, not level 1's.
	mustAddSummary(t, ss, "c", sm(0, 9, 10, "l0 c"))
	_, err = ss.AddSummary(ctx, tenant, "c", sm(1, 11, 12, "l1 gap"))
	require.ErrorIs(t, err, memory.ErrConflict, "level 1 continues after its own ToSeq (8)")
	mustAddSummary(t, ss, "c", sm(1, 9, 10, "l1 b"))
	mustAddSummary(t, ss, "c", sm(0, 11, 12, "l0 d"))
	require.Equal(t, []span{{0, 1, 4}, {0, 5, 8}, {0, 9, 10}, {0, 11, 12}, {1, 1, 8}, {1, 9, 10}, {2, 1, 8}},
		spans(mustSummaries(t, ss, "c")))
}

func testSummaryInvalid(t *testing.T, s memory.Store, ss memory.SummaryStore) {
	ctx := context.Background()
	mustCreate(t, s, memory.Conversation{ID: "c"})
	mustAppend(t, s, "c", userTurns("1", "2", "3", "4"))
	for name, bad := range map[string]memory.Summary{
		"to before from": sm(0, 3, 2, "x"),
		"negative level": sm(-1, 1, 2, "x"),
		"empty content":  sm(0, 1, 2, ""),
		"to zero":        sm(0, 1, 0, "x"),
	} {
		_, err := ss.AddSummary(ctx, tenant, "c", bad)
		require.ErrorIs(t, err, memory.ErrInvalid, "add: %s", name)
		_, err = ss.ReplaceSummary(ctx, tenant, "c", bad)
		require.ErrorIs(t, err, memory.ErrInvalid, "replace: %s", name)
	}
	require.Empty(t, mustSummaries(t, ss, "c"), "invalid summaries wrote nothing")
	// The chain is untouched: level 0 still starts at 1.
	mustAddSummary(t, ss, "c", sm(0, 1, 2, "ok"))
	_, err := ss.AddSummary(ctx, tenant, "c", sm(0, 3, 4, ""))
	require.ErrorIs(t, err, memory.ErrInvalid, "empty content in a valid position")
	_, err = ss.ReplaceSummary(ctx, tenant, "c", sm(0, 1, 2, ""))
	require.ErrorIs(t, err, memory.ErrInvalid, "replace with empty content")
	got := mustSummaries(t, ss, "c")
	require.Equal(t, []string{"ok"}, contents(got))
	mustAddSummary(t, ss, "c", sm(0, 3, 4, "next"))
}

func testSummaryUnknown(t *testing.T, s memory.Store, ss memory.SummaryStore) {
	ctx := context.Background()
	mustCreate(t, s, memory.Conversation{ID: "mine"})
	mustAppend(t, s, "mine", userTurns("1", "2"))
	mustAddSummary(t, ss, "mine", sm(0, 1, 2, "private"))
	// Another tenant's conversation of the same id, and a missing one.
	mustCreate(t, s, memory.Conversation{ID: "mine", Tenant: "other"})

	for _, tc := range []struct{ tenant, id string }{{tenant, "ghost"}, {"nobody", "mine"}} {
		_, err := ss.AddSummary(ctx, tc.tenant, tc.id, sm(0, 1, 2, "x"))
		require.ErrorIs(t, err, memory.ErrNotFound, "add %s/%s", tc.tenant, tc.id)
		_, err = ss.ReplaceSummary(ctx, tc.tenant, tc.id, sm(0, 1, 2, "x"))
		require.ErrorIs(t, err, memory.ErrNotFound, "replace %s/%s", tc.tenant, tc.id)
		_, err = ss.Summaries(ctx, tc.tenant, tc.id)
		require.ErrorIs(t, err, memory.ErrNotFound, "summaries %s/%s", tc.tenant, tc.id)
	}
	theirs, err := ss.Summaries(ctx, "other", "mine")
	require.NoError(t, err)
	require.Empty(t, theirs, "tenant other does not see tenant acme's summaries")
	_, err = ss.ReplaceSummary(ctx, "other", "mine", sm(0, 1, 2, "x"))
	require.ErrorIs(t, err, memory.ErrNotFound, "no summary to replace in the other tenant")
	mustAddSummary(t, ss, "mine", sm(0, 3, 3, "chain of acme/mine"))
	_, err = ss.AddSummary(ctx, "other", "mine", sm(0, 1, 1, "their own chain"))
	require.NoError(t, err)
	require.Equal(t, []string{"private", "chain of acme/mine"}, contents(mustSummaries(t, ss, "mine")))
}

func testSummariesOrder(t *testing.T, s memory.Store, ss memory.SummaryStore) {
	mustCreate(t, s, memory.Conversation{ID: "c"})
	empty := mustSummaries(t, ss, "c")
	require.NotNil(t, empty, "an empty list, not nil")
	require.Empty(t, empty)

	tokyo := time.FixedZone("JST", 9*3600)
	base := time.Date(2023, 5, 8, 13, 56, 7, 123456789, tokyo)
	long := time.Date(1999, 12, 31, 23, 59, 59, 999999999, time.UTC)
	before := time.Now().Add(-time.Second)
	// Written out of order across levels; chains whose seqs and levels
	// sort differently as text (9 < 10, 101 < 1000, level 2 < 10).
	in := []memory.Summary{
		{Level: 10, FromSeq: 1, ToSeq: 1000, Content: "level ten", Producer: "llm:qwen3-30b-a3b", Tokens: 7, FromTime: base, ToTime: base.Add(48 * time.Hour)},
		{Level: 0, FromSeq: 1, ToSeq: 4, Content: "Odile repainted the rowing boat 🚣 on 7 May 2023.", Producer: "extractive", Tokens: 13, FromTime: base, ToTime: base.Add(time.Minute)},
		{Level: 2, FromSeq: 1, ToSeq: 100, Content: "楼下的面包店七点开门。", Producer: "llm:x", Tokens: 9, FromTime: long, ToTime: base},
		{Level: 0, FromSeq: 5, ToSeq: 9, Content: `quotes " and \ backslash`, Producer: "extractive", Tokens: 5, FromTime: base.Add(time.Hour), ToTime: base.Add(2 * time.Hour)},
		{Level: 0, FromSeq: 10, ToSeq: 100, Content: "ten to a hundred", Producer: "extractive", Tokens: 4},
		{Level: 2, FromSeq: 101, ToSeq: 1000, Content: "later", Producer: "llm:x", Tokens: 1, FromTime: base, ToTime: base},
		{Level: 0, FromSeq: 101, ToSeq: 1000, Content: "many", Producer: "extractive", Tokens: 1, FromTime: base, ToTime: base},
	}
	written := map[span]memory.Summary{}
	for _, x := range in {
		x.CreatedAt = long // ignored: the store sets it
		x.Stale = true     // ignored: the store sets it
		x.ConversationID = "somewhere-else"
		got := mustAddSummary(t, ss, "c", x)
		requireSameSummary(t, x, got)
		require.True(t, got.CreatedAt.After(before), "created_at set by the store: %v", got.CreatedAt)
		require.Equal(t, time.UTC, got.CreatedAt.Location())
		written[span{x.Level, x.FromSeq, x.ToSeq}] = got
	}
	stored := mustSummaries(t, ss, "c")
	require.Equal(t, []span{{0, 1, 4}, {0, 5, 9}, {0, 10, 100}, {0, 101, 1000}, {2, 1, 100}, {2, 101, 1000}, {10, 1, 1000}},
		spans(stored), "ordered by level, then from_seq")
	for _, got := range stored {
		want := written[span{got.Level, got.FromSeq, got.ToSeq}]
		requireSameSummary(t, want, got)
		require.True(t, want.CreatedAt.Equal(got.CreatedAt), "created_at kept to the nanosecond")
		require.Equal(t, time.UTC, got.CreatedAt.Location())
	}
}

// requireSameSummary checks every field the caller gives is stored as
// given (times to the nanosecond, in UTC), with the store's own fields:
// the conversation id, Stale false and a CreatedAt.
func requireSameSummary(t *testing.T, want, got memory.Summary) {
	t.Helper()
	require.Equal(t, "c", got.ConversationID, "conversation id set by the store")
	require.Equal(t, want.Level, got.Level)
	require.Equal(t, want.FromSeq, got.FromSeq)
	require.Equal(t, want.ToSeq, got.ToSeq)
	require.Equal(t, want.Content, got.Content)
	require.Equal(t, want.Tokens, got.Tokens)
	require.Equal(t, want.Producer, got.Producer)
	require.False(t, got.Stale, "a new summary is not stale")
	require.False(t, got.CreatedAt.IsZero())
	for _, tc := range []struct {
		name      string
		want, got time.Time
	}{{"from_time", want.FromTime, got.FromTime}, {"to_time", want.ToTime, got.ToTime}} {
		require.True(t, tc.want.Equal(tc.got), "%s %v stored as %v", tc.name, tc.want, tc.got)
		require.Equal(t, tc.want.UnixNano(), tc.got.UnixNano(), tc.name)
		require.Equal(t, time.UTC, tc.got.Location(), "%s in UTC", tc.name)
	}
}

func testReplaceSummary(t *testing.T, s memory.Store, ss memory.SummaryStore) {
	ctx := context.Background()
	mustCreate(t, s, memory.Conversation{ID: "c"})
	mustAppend(t, s, "c", userTurns("1", "2", "3", "4", "5", "6", "7", "8"))
	mustAddSummary(t, ss, "c", sm(0, 1, 4, "old a"))
	mustAddSummary(t, ss, "c", sm(0, 5, 8, "old b"))
	mustAddSummary(t, ss, "c", sm(1, 1, 8, "old top"))
	require.NoError(t, s.DeleteTurn(ctx, tenant, "c", 2))
	require.Equal(t, []span{{0, 1, 4}, {1, 1, 8}}, staleSpans(mustSummaries(t, ss, "c")))

	before := time.Now().Add(-time.Second)
	at := time.Date(2024, 2, 29, 23, 0, 0, 1, time.FixedZone("X", -5*3600))
	repl := memory.Summary{Level: 0, FromSeq: 1, ToSeq: 4, Content: "rebuilt without turn 2", Tokens: 4,
		Producer: "llm:rebuild", FromTime: at, ToTime: at.Add(time.Hour), Stale: true}
	got, err := ss.ReplaceSummary(ctx, tenant, "c", repl)
	require.NoError(t, err)
	requireSameSummary(t, repl, got)
	require.True(t, got.CreatedAt.After(before), "created_at is the time of the rewrite")

	stored := mustSummaries(t, ss, "c")
	require.Equal(t, []span{{0, 1, 4}, {0, 5, 8}, {1, 1, 8}}, spans(stored))
	requireSameSummary(t, repl, stored[0])
	require.True(t, got.CreatedAt.Equal(stored[0].CreatedAt))
	require.Equal(t, []string{"rebuilt without turn 2", "old b", "old top"}, contents(stored))
	require.Equal(t, []span{{1, 1, 8}}, staleSpans(stored), "only the replaced summary's Stale is cleared")

	// Replacing a summary that is not stale works too.
	_, err = ss.ReplaceSummary(ctx, tenant, "c", sm(0, 5, 8, "new b"))
	require.NoError(t, err)

	for _, tc := range []struct {
		s    memory.Summary
		want error
		why  string
	}{
		{sm(0, 1, 5, "x"), memory.ErrConflict, "ToSeq differs from the stored one"},
		{sm(0, 1, 3, "x"), memory.ErrConflict, "ToSeq differs from the stored one"},
		{sm(1, 1, 4, "x"), memory.ErrConflict, "ToSeq differs at level 1"},
		{sm(0, 2, 4, "x"), memory.ErrNotFound, "no summary starts at 2"},
		{sm(0, 9, 12, "x"), memory.ErrNotFound, "past the chain"},
		{sm(3, 1, 8, "x"), memory.ErrNotFound, "no such level"},
	} {
		_, err := ss.ReplaceSummary(ctx, tenant, "c", tc.s)
		require.ErrorIs(t, err, tc.want, tc.why)
	}
	stored = mustSummaries(t, ss, "c")
	require.Equal(t, []string{"rebuilt without turn 2", "new b", "old top"}, contents(stored), "failed replaces changed nothing")
	require.Equal(t, []span{{1, 1, 8}}, staleSpans(stored))
	// Replace never extends a chain: level 0 still continues at 9.
	mustAddSummary(t, ss, "c", sm(0, 9, 9, "next"))
}

func testDeleteTurnStale(t *testing.T, s memory.Store, ss memory.SummaryStore) {
	ctx := context.Background()
	for _, id := range []string{"c", "twin"} {
		mustCreate(t, s, memory.Conversation{ID: id})
		var cs []string
		for i := 1; i <= 14; i++ {
			cs = append(cs, fmt.Sprint("turn ", i))
		}
		mustAppend(t, s, id, userTurns(cs...))
		// Turns 13 and 14 are not summarised yet.
		for _, x := range []memory.Summary{
			sm(0, 1, 4, "a"), sm(0, 5, 8, "b"), sm(0, 9, 12, "c"),
			sm(1, 1, 8, "ab"), sm(1, 9, 12, "c'"),
			sm(2, 1, 12, "abc"),
			sm(11, 1, 1, "level eleven"),
		} {
			mustAddSummary(t, ss, id, x)
		}
	}
	stale := func() []span { return staleSpans(mustSummaries(t, ss, "c")) }
	require.Empty(t, stale())

	// Inside a range: the summary holding it at every level.
	require.NoError(t, s.DeleteTurn(ctx, tenant, "c", 6))
	require.Equal(t, []span{{0, 5, 8}, {1, 1, 8}, {2, 1, 12}}, stale())

	// A turn no summary covers marks nothing; a failed delete marks nothing.
	require.NoError(t, s.DeleteTurn(ctx, tenant, "c", 13))
	require.ErrorIs(t, s.DeleteTurn(ctx, tenant, "c", 13), memory.ErrNotFound)
	require.ErrorIs(t, s.DeleteTurn(ctx, tenant, "c", 99), memory.ErrNotFound)
	require.Equal(t, []span{{0, 5, 8}, {1, 1, 8}, {2, 1, 12}}, stale())

	// Rebuilt summaries are fresh until another of their turns goes.
	for _, x := range []memory.Summary{sm(0, 5, 8, "b-"), sm(1, 1, 8, "ab-"), sm(2, 1, 12, "abc-")} {
		_, err := ss.ReplaceSummary(ctx, tenant, "c", x)
		require.NoError(t, err)
	}
	require.Empty(t, stale())

	// On a ToSeq boundary.
	require.NoError(t, s.DeleteTurn(ctx, tenant, "c", 4))
	require.Equal(t, []span{{0, 1, 4}, {1, 1, 8}, {2, 1, 12}}, stale())

	// On a FromSeq boundary; already stale summaries stay stale.
	require.NoError(t, s.DeleteTurn(ctx, tenant, "c", 9))
	require.Equal(t, []span{{0, 1, 4}, {0, 9, 12}, {1, 1, 8}, {1, 9, 12}, {2, 1, 12}}, stale())

	// The first turn, covered by the one-turn summary of level 11 too.
	require.NoError(t, s.DeleteTurn(ctx, tenant, "c", 1))
	require.Equal(t, []span{{0, 1, 4}, {0, 9, 12}, {1, 1, 8}, {1, 9, 12}, {2, 1, 12}, {11, 1, 1}}, stale())

	// Marking is scoped to the conversation.
	require.Empty(t, staleSpans(mustSummaries(t, ss, "twin")))
	// The summaries themselves are kept, with their content.
	require.Len(t, mustSummaries(t, ss, "c"), 7)
}

func testDeleteConversationSummaries(t *testing.T, s memory.Store, ss memory.SummaryStore) {
	ctx := context.Background()
	for _, id := range []string{"gone", "kept"} {
		mustCreate(t, s, memory.Conversation{ID: id})
		mustAppend(t, s, id, userTurns("1", "2", "3"))
		mustAddSummary(t, ss, id, sm(0, 1, 2, "x"))
		mustAddSummary(t, ss, id, sm(1, 1, 2, "y"))
	}
	require.NoError(t, s.DeleteTurn(ctx, tenant, "gone", 1))
	require.NoError(t, s.DeleteConversation(ctx, tenant, "gone"))
	_, err := ss.Summaries(ctx, tenant, "gone")
	require.ErrorIs(t, err, memory.ErrNotFound)
	_, err = ss.AddSummary(ctx, tenant, "gone", sm(0, 3, 3, "x"))
	require.ErrorIs(t, err, memory.ErrNotFound)

	// Recreated under the same id it has no summaries, and its chains
	// start again at 1.
	mustCreate(t, s, memory.Conversation{ID: "gone"})
	require.Empty(t, mustSummaries(t, ss, "gone"))
	_, err = ss.AddSummary(ctx, tenant, "gone", sm(0, 3, 3, "x"))
	require.ErrorIs(t, err, memory.ErrConflict)
	_, err = ss.ReplaceSummary(ctx, tenant, "gone", sm(0, 1, 2, "x"))
	require.ErrorIs(t, err, memory.ErrNotFound)
	got := mustAddSummary(t, ss, "gone", sm(0, 1, 1, "fresh"))
	require.False(t, got.Stale)
	require.Equal(t, []span{{0, 1, 1}}, spans(mustSummaries(t, ss, "gone")))

	require.Equal(t, []span{{0, 1, 2}, {1, 1, 2}}, spans(mustSummaries(t, ss, "kept")))
}

func testConcurrentAddSummary(t *testing.T, s memory.Store, ss memory.SummaryStore) {
	ctx := context.Background()
	mustCreate(t, s, memory.Conversation{ID: "c"})
	mustAppend(t, s, "c", userTurns("1", "2", "3", "4", "5", "6", "7", "8"))
	// Twice: the first summary of the level, then the next one.
	for round, r := range []struct{ from, to int64 }{{1, 4}, {5, 8}} {
		const workers = 8
		errs := make([]error, workers)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[w] = ss.AddSummary(ctx, tenant, "c", sm(0, r.from, r.to, fmt.Sprintf("worker %d", w)))
			}()
		}
		wg.Wait()
		winner := -1
		for w, err := range errs {
			if err == nil {
				require.Equal(t, -1, winner, "round %d: workers %d and %d both succeeded", round, winner, w)
				winner = w
				continue
			}
			require.True(t, errors.Is(err, memory.ErrConflict), "round %d, worker %d: %v", round, w, err)
		}
		require.NotEqual(t, -1, winner, "round %d: one worker succeeds", round)
		got := mustSummaries(t, ss, "c")
		require.Len(t, got, round+1)
		require.Equal(t, fmt.Sprintf("worker %d", winner), got[round].Content)
	}
	require.Equal(t, []span{{0, 1, 4}, {0, 5, 8}}, spans(mustSummaries(t, ss, "c")))
}

// testSummaryTurnsMustExist: a summary written from a turn that has been
// forgotten since is refused with ErrConflict, by AddSummary and by
// ReplaceSummary, and nothing is written.
func testSummaryTurnsMustExist(t *testing.T, s memory.Store, ss memory.SummaryStore) {
	ctx := context.Background()
	mustCreate(t, s, memory.Conversation{ID: "c"})
	mustAppend(t, s, "c", userTurns("one", "two", "three", "four", "five"))
	require.NoError(t, s.DeleteTurn(ctx, tenant, "c", 2))

	withSeqs := func(m memory.Summary, seqs ...int64) memory.Summary { m.TurnSeqs = seqs; return m }
	_, err := ss.AddSummary(ctx, tenant, "c", withSeqs(sm(0, 1, 4, "one two three four"), 1, 2, 3, 4))
	require.ErrorIs(t, err, memory.ErrConflict)
	require.Empty(t, mustSummaries(t, ss, "c"), "nothing written")

	got, err := ss.AddSummary(ctx, tenant, "c", withSeqs(sm(0, 1, 4, "one three four"), 1, 3, 4))
	require.NoError(t, err)
	require.Nil(t, got.TurnSeqs, "TurnSeqs are not part of the stored summary")
	stored := mustSummaries(t, ss, "c")
	require.Len(t, stored, 1)
	require.Nil(t, stored[0].TurnSeqs)

	require.NoError(t, s.DeleteTurn(ctx, tenant, "c", 4)) // marks it stale
	_, err = ss.ReplaceSummary(ctx, tenant, "c", withSeqs(sm(0, 1, 4, "one three four"), 1, 3, 4))
	require.ErrorIs(t, err, memory.ErrConflict)
	stored = mustSummaries(t, ss, "c")
	require.True(t, stored[0].Stale, "the refused replace changed nothing")
	require.Equal(t, "one three four", stored[0].Content)

	_, err = ss.ReplaceSummary(ctx, tenant, "c", withSeqs(sm(0, 1, 4, "one three"), 1, 3))
	require.NoError(t, err)
	stored = mustSummaries(t, ss, "c")
	require.False(t, stored[0].Stale)
	require.Equal(t, "one three", stored[0].Content)

	// Turns of another conversation do not count.
	mustCreate(t, s, memory.Conversation{ID: "d"})
	_, err = ss.AddSummary(ctx, tenant, "d", withSeqs(sm(0, 1, 1, "one"), 1))
	require.ErrorIs(t, err, memory.ErrConflict)
}
