// Package bottest is the contract suite of bots.Store: every backend's tests
// call Run.
package bottest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/bots"
	"github.com/longmem/longmem/memory"
)

// Run runs the contract's subtests. newStore returns an empty store for
// one subtest; Run closes it when the subtest ends.
func Run(t *testing.T, newStore func(t *testing.T) bots.Store) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s bots.Store)
	}{
		{"CreateGet", testCreateGet},
		{"CreateInvalid", testCreateInvalid},
		{"IDConflict", testIDConflict},
		{"VersionsGrow", testVersionsGrow},
		{"GetVersionImmutable", testGetVersionImmutable},
		{"IfMatchStale", testIfMatchStale},
		{"IfMatchConcurrent", testIfMatchConcurrent},
		{"UnconditionalConcurrent", testUnconditionalConcurrent},
		{"ListPagingAndQ", testList},
		{"DeleteRemovesAllVersions", testDelete},
		{"TenantIsolation", testTenantIsolation},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			t.Cleanup(func() { require.NoError(t, s.Close()) })
			tc.fn(t, s)
		})
	}
}

const tenant = "acme"

func ptr[T any](v T) *T { return &v }

// sample is a valid bot using every kind of field.
func sample(id string) bots.Bot {
	return bots.Bot{
		ID: id, Name: "Aria " + id, Description: "A ship's AI.", Personality: "Dry.",
		Scenario: "{{user}} wakes up.", FirstMessage: "Hello, {{user}}.", AlternateGreetings: []string{"Hi."},
		ExampleDialogues: "{{user}}: Hi\n{{char}}: Hello", SystemPrompt: "You are {{char}}.",
		PostHistoryInstructions: "Stay in character.", CreatorNotes: "notes", Creator: "me", CharacterVersion: "1.0",
		Lorebook: &bots.Lorebook{Name: "World", ScanDepth: 3, Entries: []bots.LoreEntry{
			{ID: 1, Keys: []string{"castle"}, Content: "The castle is old.", Enabled: true, InsertionOrder: 2},
			{ID: 2, Constant: true, Content: "Always.", Enabled: true, Extensions: map[string]any{"depth": 4.0}},
		}},
		Model:      bots.ModelConfig{Model: "hunyuan", ContextWindow: 16384, MaxOutputTokens: 512, Temperature: ptr(0.7), Stop: []string{"\nUser:"}},
		Memory:     bots.MemoryPolicy{RecentShare: 0.2, Summaries: ptr(false)},
		Tags:       []string{"sci-fi"},
		Metadata:   map[string]any{"k": "v", "n": 1.5},
		Extensions: map[string]any{"unknown": map[string]any{"x": true}},
		Card:       map[string]any{"nickname": "Ari"},
	}
}

// content strips what the store sets, to compare what a caller gave.
func content(b bots.Bot) bots.Bot {
	b.Tenant, b.Version, b.Author = "", 0, ""
	b.CreatedAt, b.UpdatedAt = time.Time{}, time.Time{}
	return b
}

func testCreateGet(t *testing.T, s bots.Store) {
	ctx := t.Context()
	in := sample("aria")
	in.Version, in.Author = 42, "spoofed" // set by the store, not the caller
	got, err := s.Create(ctx, tenant, in, "alice")
	require.NoError(t, err)
	require.Equal(t, 1, got.Version)
	require.Equal(t, "alice", got.Author)
	require.Equal(t, tenant, got.Tenant)
	require.False(t, got.CreatedAt.IsZero())
	require.Equal(t, got.CreatedAt, got.UpdatedAt)
	require.Equal(t, content(sample("aria")), content(got))

	again, err := s.Get(ctx, tenant, "aria")
	require.NoError(t, err)
	require.Equal(t, got, again, "Get returns the bot as Create returned it")
	v1, err := s.GetVersion(ctx, tenant, "aria", 1)
	require.NoError(t, err)
	require.Equal(t, got, v1)

	_, err = s.Get(ctx, tenant, "nobody")
	require.ErrorIs(t, err, memory.ErrNotFound)
	_, err = s.GetVersion(ctx, tenant, "nobody", 1)
	require.ErrorIs(t, err, memory.ErrNotFound)
	_, err = s.Versions(ctx, tenant, "nobody")
	require.ErrorIs(t, err, memory.ErrNotFound)
	_, err = s.Update(ctx, tenant, sample("nobody"), 0, "alice")
	require.ErrorIs(t, err, memory.ErrNotFound)
	require.ErrorIs(t, s.Delete(ctx, tenant, "nobody"), memory.ErrNotFound)
}

func testCreateInvalid(t *testing.T, s bots.Store) {
	ctx := t.Context()
	for _, tc := range []struct {
		field string
		bot   bots.Bot
	}{
		{"id", bots.Bot{Name: "no id"}},
		{"name", bots.Bot{ID: "x"}},
		{"model.temperature", bots.Bot{ID: "x", Name: "x", Model: bots.ModelConfig{Temperature: ptr(3.0)}}},
	} {
		_, err := s.Create(ctx, tenant, tc.bot, "alice")
		var ie *memory.InvalidError
		require.True(t, errors.As(err, &ie), "%v", err)
		require.Equal(t, tc.field, ie.Field)
	}
	_, err := s.Get(ctx, tenant, "x")
	require.ErrorIs(t, err, memory.ErrNotFound, "an invalid bot is not stored")

	_, err = s.Create(ctx, tenant, sample("x"), "alice")
	require.NoError(t, err)
	bad := sample("x")
	bad.Name = ""
	_, err = s.Update(ctx, tenant, bad, 0, "alice")
	require.ErrorIs(t, err, memory.ErrInvalid)
	vs, err := s.Versions(ctx, tenant, "x")
	require.NoError(t, err)
	require.Len(t, vs, 1, "an invalid update stores nothing")
}

func testIDConflict(t *testing.T, s bots.Store) {
	ctx := t.Context()
	_, err := s.Create(ctx, tenant, sample("aria"), "alice")
	require.NoError(t, err)
	other := sample("aria")
	other.Name = "Impostor"
	_, err = s.Create(ctx, tenant, other, "bob")
	require.ErrorIs(t, err, memory.ErrConflict)
	got, err := s.Get(ctx, tenant, "aria")
	require.NoError(t, err)
	require.Equal(t, "Aria aria", got.Name, "the conflict changed nothing")
	require.Equal(t, 1, got.Version)
}

func testVersionsGrow(t *testing.T, s bots.Store) {
	ctx := t.Context()
	created, err := s.Create(ctx, tenant, sample("aria"), "alice")
	require.NoError(t, err)
	for i, author := range []string{"bob", "carol", "dave"} {
		b := sample("aria")
		b.Name = fmt.Sprintf("Aria %d", i+2)
		got, err := s.Update(ctx, tenant, b, i+1, author)
		require.NoError(t, err)
		require.Equal(t, i+2, got.Version)
		require.Equal(t, author, got.Author)
		require.Equal(t, created.CreatedAt, got.CreatedAt, "CreatedAt is the bot's")
		require.False(t, got.UpdatedAt.Before(created.UpdatedAt))
		latest, err := s.Get(ctx, tenant, "aria")
		require.NoError(t, err)
		require.Equal(t, got, latest)
	}
	vs, err := s.Versions(ctx, tenant, "aria")
	require.NoError(t, err)
	require.Len(t, vs, 4)
	for i, v := range vs {
		require.Equal(t, i+1, v.Version)
		require.False(t, v.CreatedAt.IsZero())
	}
	require.Equal(t, []string{"alice", "bob", "carol", "dave"}, []string{vs[0].Author, vs[1].Author, vs[2].Author, vs[3].Author})
	require.Equal(t, created.UpdatedAt, vs[0].CreatedAt)
}

func testGetVersionImmutable(t *testing.T, s bots.Store) {
	ctx := t.Context()
	v1, err := s.Create(ctx, tenant, sample("aria"), "alice")
	require.NoError(t, err)
	b := sample("aria")
	b.Description = "Changed."
	b.Lorebook = nil
	b.Metadata = map[string]any{"other": "x"}
	v2, err := s.Update(ctx, tenant, b, 0, "bob")
	require.NoError(t, err)
	require.Equal(t, 2, v2.Version)
	require.Nil(t, v2.Lorebook, "an update replaces every field")

	got1, err := s.GetVersion(ctx, tenant, "aria", 1)
	require.NoError(t, err)
	require.Equal(t, v1, got1, "version 1 is unchanged by the update")
	got2, err := s.GetVersion(ctx, tenant, "aria", 2)
	require.NoError(t, err)
	require.Equal(t, v2, got2)
	for _, v := range []int{0, 3, -1} {
		_, err = s.GetVersion(ctx, tenant, "aria", v)
		require.ErrorIs(t, err, memory.ErrNotFound, "version %d", v)
	}
}

func testIfMatchStale(t *testing.T, s bots.Store) {
	ctx := t.Context()
	_, err := s.Create(ctx, tenant, sample("aria"), "alice")
	require.NoError(t, err)
	_, err = s.Update(ctx, tenant, sample("aria"), 1, "bob")
	require.NoError(t, err)
	stale := sample("aria")
	stale.Name = "Lost update"
	for _, v := range []int{1, 3} {
		_, err = s.Update(ctx, tenant, stale, v, "carol")
		require.ErrorIs(t, err, bots.ErrPrecondition, "ifVersion %d", v)
	}
	got, err := s.Get(ctx, tenant, "aria")
	require.NoError(t, err)
	require.Equal(t, 2, got.Version)
	require.NotEqual(t, "Lost update", got.Name)
}

// testIfMatchConcurrent: updates racing with the same ifVersion; exactly
// one wins, the others fail with ErrPrecondition.
func testIfMatchConcurrent(t *testing.T, s bots.Store) {
	ctx := t.Context()
	_, err := s.Create(ctx, tenant, sample("aria"), "alice")
	require.NoError(t, err)
	for round := 1; round <= 5; round++ {
		const n = 8
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				b := sample("aria")
				b.Name = fmt.Sprintf("writer %d", i)
				<-start
				_, errs[i] = s.Update(ctx, tenant, b, round, fmt.Sprintf("w%d", i))
			}()
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			if err == nil {
				require.Equal(t, -1, winner, "two updates with ifVersion %d both won", round)
				winner = i
				continue
			}
			require.ErrorIs(t, err, bots.ErrPrecondition)
		}
		require.NotEqual(t, -1, winner, "no update won")
		got, err := s.Get(ctx, tenant, "aria")
		require.NoError(t, err)
		require.Equal(t, round+1, got.Version)
		require.Equal(t, fmt.Sprintf("writer %d", winner), got.Name)
	}
}

// testUnconditionalConcurrent: unconditional updates all land, each as its
// own version, none lost.
func testUnconditionalConcurrent(t *testing.T, s bots.Store) {
	ctx := t.Context()
	_, err := s.Create(ctx, tenant, sample("aria"), "alice")
	require.NoError(t, err)
	const n = 8
	var wg sync.WaitGroup
	versions := make([]int, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var got bots.Bot
			got, errs[i] = s.Update(context.WithoutCancel(ctx), tenant, sample("aria"), 0, fmt.Sprintf("w%d", i))
			versions[i] = got.Version
		}()
	}
	wg.Wait()
	seen := map[int]bool{}
	for i, err := range errs {
		require.NoError(t, err)
		require.False(t, seen[versions[i]], "version %d returned twice", versions[i])
		seen[versions[i]] = true
	}
	vs, err := s.Versions(ctx, tenant, "aria")
	require.NoError(t, err)
	require.Len(t, vs, n+1)
	for i, v := range vs {
		require.Equal(t, i+1, v.Version)
	}
}

func testList(t *testing.T, s bots.Store) {
	ctx := t.Context()
	ids := []string{"b1", "a0", "c2", "B3", "d-4", "e_5"}
	for i, id := range ids {
		b := sample(id)
		b.Name = "Bot " + id
		b.Description = ""
		b.Tags = nil
		switch i {
		case 0:
			b.Name = "Castle Guard"
		case 2:
			b.Description = "guards the CASTLE gate"
		case 4:
			b.Tags = []string{"x", "castle-lore"}
		}
		_, err := s.Create(ctx, tenant, b, "alice")
		require.NoError(t, err)
	}
	_, err := s.Create(ctx, "other", sample("a1"), "alice")
	require.NoError(t, err)
	// A later version is what the list shows.
	upd := sample("a0")
	upd.Name = "Renamed castle"
	upd.Description, upd.Tags = "", nil
	_, err = s.Update(ctx, tenant, upd, 1, "bob")
	require.NoError(t, err)

	var got []string
	after := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 10)
		page, err := s.List(ctx, bots.ListOptions{Tenant: tenant, After: after, Limit: 2})
		require.NoError(t, err)
		require.LessOrEqual(t, len(page), 2)
		if len(page) == 0 {
			break
		}
		for _, b := range page {
			require.Equal(t, tenant, b.Tenant)
			got = append(got, b.ID)
		}
		after = page[len(page)-1].ID
	}
	require.Equal(t, []string{"B3", "a0", "b1", "c2", "d-4", "e_5"}, got, "ascending by id (byte order), every bot once")

	all, err := s.List(ctx, bots.ListOptions{Tenant: tenant})
	require.NoError(t, err)
	require.Len(t, all, 6)
	require.Equal(t, "a0", all[1].ID)
	require.Equal(t, 2, all[1].Version, "the latest version is listed")

	hits, err := s.List(ctx, bots.ListOptions{Tenant: tenant, Q: "CaStLe"})
	require.NoError(t, err)
	require.Equal(t, []string{"a0", "b1", "c2", "d-4"}, idsOf(hits), "name, description and tags match, in any case")
	hits, err = s.List(ctx, bots.ListOptions{Tenant: tenant, Q: "castle", After: "a0", Limit: 2})
	require.NoError(t, err)
	require.Equal(t, []string{"b1", "c2"}, idsOf(hits), "q with paging")
	hits, err = s.List(ctx, bots.ListOptions{Tenant: tenant, Q: "castle", After: "c2", Limit: 2})
	require.NoError(t, err)
	require.Equal(t, []string{"d-4"}, idsOf(hits))

	none, err := s.List(ctx, bots.ListOptions{Tenant: "nobody"})
	require.NoError(t, err)
	require.Empty(t, none)
}

func idsOf(bs []bots.Bot) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = b.ID
	}
	return out
}

func testDelete(t *testing.T, s bots.Store) {
	ctx := t.Context()
	_, err := s.Create(ctx, tenant, sample("aria"), "alice")
	require.NoError(t, err)
	_, err = s.Update(ctx, tenant, sample("aria"), 0, "bob")
	require.NoError(t, err)
	_, err = s.Create(ctx, tenant, sample("keep"), "alice")
	require.NoError(t, err)

	require.NoError(t, s.Delete(ctx, tenant, "aria"))
	_, err = s.Get(ctx, tenant, "aria")
	require.ErrorIs(t, err, memory.ErrNotFound)
	for _, v := range []int{1, 2} {
		_, err = s.GetVersion(ctx, tenant, "aria", v)
		require.ErrorIs(t, err, memory.ErrNotFound)
	}
	_, err = s.Versions(ctx, tenant, "aria")
	require.ErrorIs(t, err, memory.ErrNotFound)
	list, err := s.List(ctx, bots.ListOptions{Tenant: tenant})
	require.NoError(t, err)
	require.Equal(t, []string{"keep"}, idsOf(list))
	require.ErrorIs(t, s.Delete(ctx, tenant, "aria"), memory.ErrNotFound)

	again, err := s.Create(ctx, tenant, sample("aria"), "carol")
	require.NoError(t, err)
	require.Equal(t, 1, again.Version, "a deleted id starts again at version 1")
	vs, err := s.Versions(ctx, tenant, "aria")
	require.NoError(t, err)
	require.Len(t, vs, 1)
	require.Equal(t, "carol", vs[0].Author)
}

func testTenantIsolation(t *testing.T, s bots.Store) {
	ctx := t.Context()
	_, err := s.Create(ctx, "t1", sample("aria"), "alice")
	require.NoError(t, err)
	theirs := sample("aria")
	theirs.Name = "Other tenant's Aria"
	_, err = s.Create(ctx, "t2", theirs, "bob")
	require.NoError(t, err, "the same id in another tenant is another bot")

	_, err = s.Get(ctx, "t3", "aria")
	require.ErrorIs(t, err, memory.ErrNotFound)
	_, err = s.GetVersion(ctx, "t3", "aria", 1)
	require.ErrorIs(t, err, memory.ErrNotFound)
	_, err = s.Versions(ctx, "t3", "aria")
	require.ErrorIs(t, err, memory.ErrNotFound)
	_, err = s.Update(ctx, "t3", sample("aria"), 0, "eve")
	require.ErrorIs(t, err, memory.ErrNotFound)
	require.ErrorIs(t, s.Delete(ctx, "t3", "aria"), memory.ErrNotFound)

	_, err = s.Update(ctx, "t2", theirs, 1, "bob")
	require.NoError(t, err)
	require.NoError(t, s.Delete(ctx, "t2", "aria"))
	mine, err := s.Get(ctx, "t1", "aria")
	require.NoError(t, err)
	require.Equal(t, 1, mine.Version, "another tenant's update and delete leave this bot alone")
	require.Equal(t, "Aria aria", mine.Name)
	_, err = s.Get(ctx, "", "aria")
	require.ErrorIs(t, err, memory.ErrNotFound, "the empty tenant is a tenant too")
}
