package redisstore_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/memory"
	"github.com/longmem/longmem/memory/redisstore"
	"github.com/longmem/longmem/memory/redisstore/redistest"
	"github.com/longmem/longmem/memory/storetest"
)

// backend builds stores on one Redis deployment; each store gets a fresh key
// prefix, so tests sharing the server never see each other's keys.
type backend struct {
	addrs   []string
	cluster bool
	raw     redis.UniversalClient // for inspecting keys
	n       atomic.Int64
}

func newBackend(t *testing.T, addrs []string, cluster bool) *backend {
	raw := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: addrs, IsClusterMode: cluster})
	t.Cleanup(func() { _ = raw.Close() })
	return &backend{addrs: addrs, cluster: cluster, raw: raw}
}

// open returns a store with a fresh prefix; cfg's Addrs, Cluster and
// KeyPrefix are set here.
func (b *backend) open(t *testing.T, cfg redisstore.Config) (*redisstore.Store, string) {
	t.Helper()
	cfg.Addrs = b.addrs
	cfg.Cluster = b.cluster
	cfg.KeyPrefix = fmt.Sprintf("t%d", b.n.Add(1))
	s, err := redisstore.New(t.Context(), cfg)
	require.NoError(t, err)
	return s, cfg.KeyPrefix
}

// openAt returns a store on an existing prefix: another node of the
// deployment a store from open uses.
func (b *backend) openAt(t *testing.T, prefix string) *redisstore.Store {
	t.Helper()
	s, err := redisstore.New(t.Context(), redisstore.Config{Addrs: b.addrs, Cluster: b.cluster, KeyPrefix: prefix})
	require.NoError(t, err)
	return s
}

func TestSingle(t *testing.T) {
	addr := redistest.StartServer(t)
	runAll(t, newBackend(t, []string{addr}, false))
}

func TestCluster(t *testing.T) {
	addrs := redistest.StartCluster(t)
	// One seed address with Cluster set: the client discovers the others.
	runAll(t, newBackend(t, addrs[:1], true))
}

func runAll(t *testing.T, b *backend) {
	t.Run("Contract", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) memory.Store {
			s, _ := b.open(t, redisstore.Config{})
			return s
		})
	})
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, *backend)
	}{
		{"ConcurrentAppendsGapless", testConcurrentAppends},
		{"IdempotencyTTL", testIdempotencyTTL},
		{"IdempotencyExpiry", testIdempotencyExpiry},
		{"IdempotencyReplayAfterForget", testReplayAfterForget},
		{"DeleteRemovesAllKeys", testDeleteRemovesAllKeys},
		{"AwkwardIDs", testAwkwardIDs},
		{"ListSkipsDanglingIndexEntries", testListSkipsDangling},
		{"ListFilterScansPages", testListFilterScansPages},
		{"ClosedStoreErrors", testClosedStore},
		{"MaxBatch", testMaxBatch},
		{"SummaryLayout", testSummaryLayout},
		{"SummaryCacheAcrossNodes", testSummaryCacheAcrossNodes},
		{"SummaryCacheCopies", testSummaryCacheCopies},
		{"SummaryCacheLegacyConversation", testSummaryCacheLegacy},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, b) })
	}
}

const tenant = "acme"

func create(t *testing.T, s memory.Store, tenant, id string) {
	t.Helper()
	_, err := s.CreateConversation(t.Context(), memory.Conversation{Tenant: tenant, ID: id})
	require.NoError(t, err)
}

func userTurns(contents ...string) []memory.Turn {
	out := make([]memory.Turn, len(contents))
	for i, c := range contents {
		out[i] = memory.Turn{Role: memory.RoleUser, Content: c, Tokens: 1}
	}
	return out
}

func testConcurrentAppends(t *testing.T, b *backend) {
	s, _ := b.open(t, redisstore.Config{})
	defer s.Close()
	ctx := t.Context()
	create(t, s, tenant, "c")

	const writers, each = 16, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	var total atomic.Int64
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				size := 1 + (w+i)%3
				batch := make([]memory.Turn, size)
				for j := range batch {
					batch[j] = memory.Turn{Role: memory.RoleAssistant, Content: fmt.Sprintf("w%d-%d-%d", w, i, j)}
				}
				var opts memory.AppendOptions
				if i%2 == 0 {
					opts = memory.AppendOptions{IdempotencyKey: fmt.Sprintf("w%d-%d", w, i), RequestHash: "h"}
				}
				got, err := s.AppendTurns(ctx, tenant, "c", batch, opts)
				if err != nil {
					errs <- err
					continue
				}
				for j := 1; j < len(got); j++ {
					if got[j].Seq != got[0].Seq+int64(j) {
						errs <- fmt.Errorf("batch seqs not consecutive: %d then %d", got[0].Seq, got[j].Seq)
					}
				}
				total.Add(int64(size))
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
	require.Len(t, all, int(total.Load()))
	seen := map[string]bool{}
	for i, tr := range all {
		require.EqualValues(t, i+1, tr.Seq, "gapless")
		require.False(t, seen[tr.Content], "each turn once")
		seen[tr.Content] = true
	}
	conv, err := s.GetConversation(ctx, tenant, "c")
	require.NoError(t, err)
	require.Equal(t, total.Load(), conv.LastSeq)
}

func testIdempotencyTTL(t *testing.T, b *backend) {
	ctx := t.Context()
	for _, tc := range []struct {
		ttl      time.Duration
		min, max time.Duration
	}{
		{0, memory.DefaultIdempotencyTTL - time.Minute, memory.DefaultIdempotencyTTL},
		{90 * time.Second, 80 * time.Second, 90 * time.Second},
	} {
		s, prefix := b.open(t, redisstore.Config{IdempotencyTTL: tc.ttl})
		create(t, s, tenant, "c")
		_, err := s.AppendTurns(ctx, tenant, "c", userTurns("x"), memory.AppendOptions{IdempotencyKey: "k1", RequestHash: "h"})
		require.NoError(t, err)
		key := prefix + ":{acme/c}:idem:k1"
		ttl, err := b.raw.PTTL(ctx, key).Result()
		require.NoError(t, err)
		require.Greater(t, ttl, tc.min, "ttl of %s", key)
		require.LessOrEqual(t, ttl, tc.max)
		// The record is indexed for DeleteConversation, scored by expiry.
		_, err = b.raw.ZScore(ctx, prefix+":{acme/c}:idems", key).Result()
		require.NoError(t, err)
		require.NoError(t, s.Close())
	}
}

func testIdempotencyExpiry(t *testing.T, b *backend) {
	ctx := t.Context()
	s, prefix := b.open(t, redisstore.Config{IdempotencyTTL: 50 * time.Millisecond})
	defer s.Close()
	create(t, s, tenant, "c")
	_, err := s.AppendTurns(ctx, tenant, "c", userTurns("a"), memory.AppendOptions{IdempotencyKey: "k1", RequestHash: "h1"})
	require.NoError(t, err)
	key := prefix + ":{acme/c}:idem:k1"
	waitGone(t, b.raw, key)

	// Expired: the key is free again, for any request.
	got, err := s.AppendTurns(ctx, tenant, "c", userTurns("b"), memory.AppendOptions{IdempotencyKey: "k1", RequestHash: "h2"})
	require.NoError(t, err)
	require.EqualValues(t, 2, got[0].Seq)
	waitGone(t, b.raw, key)

	// The next keyed append drops expired records from the index.
	_, err = s.AppendTurns(ctx, tenant, "c", userTurns("c"), memory.AppendOptions{IdempotencyKey: "k2", RequestHash: "h"})
	require.NoError(t, err)
	members, err := b.raw.ZRange(ctx, prefix+":{acme/c}:idems", 0, -1).Result()
	require.NoError(t, err)
	require.Equal(t, []string{prefix + ":{acme/c}:idem:k2"}, members)
}

// waitGone polls until Redis has expired key. Not a timing assertion: it
// only bounds a hang.
func waitGone(t *testing.T, raw redis.UniversalClient, key string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := raw.Exists(t.Context(), key).Result()
		require.NoError(t, err)
		if n == 0 {
			return
		}
		require.True(t, time.Now().Before(deadline), "%s never expired", key)
		time.Sleep(10 * time.Millisecond)
	}
}

func testReplayAfterForget(t *testing.T, b *backend) {
	ctx := t.Context()
	s, _ := b.open(t, redisstore.Config{})
	defer s.Close()
	create(t, s, tenant, "c")
	opts := memory.AppendOptions{IdempotencyKey: "k", RequestHash: "h"}
	first, err := s.AppendTurns(ctx, tenant, "c", userTurns("a", "secret", "c"), opts)
	require.NoError(t, err)
	require.NoError(t, s.DeleteTurn(ctx, tenant, "c", first[1].Seq))
	again, err := s.AppendTurns(ctx, tenant, "c", userTurns("a", "secret", "c"), opts)
	require.NoError(t, err)
	require.Len(t, again, 2, "a forgotten turn is not replayed")
	require.Equal(t, first[0], again[0])
	require.Equal(t, first[2], again[1])
}

func testDeleteRemovesAllKeys(t *testing.T, b *backend) {
	ctx := t.Context()
	s, prefix := b.open(t, redisstore.Config{})
	defer s.Close()
	create(t, s, tenant, "c")
	for i := range 3 {
		_, err := s.AppendTurns(ctx, tenant, "c", userTurns("x"), memory.AppendOptions{IdempotencyKey: fmt.Sprint("k", i), RequestHash: "h"})
		require.NoError(t, err)
	}
	_, err := s.AddSummary(ctx, tenant, "c", memory.Summary{Level: 0, FromSeq: 1, ToSeq: 2, Content: "x"})
	require.NoError(t, err)
	require.NoError(t, s.DeleteTurn(ctx, tenant, "c", 2)) // creates sums:stale
	base := prefix + ":{acme/c}:"
	keys := []string{base + "conv", base + "turns", base + "idems", base + "idem:k0", base + "idem:k1", base + "idem:k2",
		base + "sums", base + "sums:order", base + "sums:stale", base + "sums:ver"}
	for _, k := range keys {
		n, err := b.raw.Exists(ctx, k).Result()
		require.NoError(t, err)
		require.EqualValues(t, 1, n, "%s exists before the delete", k)
	}
	if b.cluster {
		for _, k := range keys {
			slot, err := b.raw.ClusterKeySlot(ctx, k).Result()
			require.NoError(t, err)
			want, err := b.raw.ClusterKeySlot(ctx, keys[0]).Result()
			require.NoError(t, err)
			require.Equal(t, want, slot, "%s is in the conversation's slot", k)
		}
	}
	index := prefix + ":tenant:{acme}:convs"
	ids, err := b.raw.ZRange(ctx, index, 0, -1).Result()
	require.NoError(t, err)
	require.Equal(t, []string{"c"}, ids)

	require.NoError(t, s.DeleteConversation(ctx, tenant, "c"))
	for _, k := range keys {
		n, err := b.raw.Exists(ctx, k).Result()
		require.NoError(t, err)
		require.Zero(t, n, "%s is gone", k)
	}
	ids, err = b.raw.ZRange(ctx, index, 0, -1).Result()
	require.NoError(t, err)
	require.Empty(t, ids)
}

func testAwkwardIDs(t *testing.T, b *backend) {
	ctx := t.Context()
	s, _ := b.open(t, redisstore.Config{})
	defer s.Close()
	pairs := []struct{ tenant, id string }{
		{"a/b", "c"}, {"a", "b/c"}, // must not share keys
		{"t{1}", "{x}"}, {"t{1}", "}{"}, {"t{1}", "{"}, {"t{1}", "%7B"},
		{"t{1}", "with space"}, {"t{1}", "a:b"}, {"t{1}", "日本語"}, {"", "empty-tenant"},
	}
	for i, p := range pairs {
		_, err := s.CreateConversation(ctx, memory.Conversation{Tenant: p.tenant, ID: p.id, UserID: fmt.Sprint(i)})
		require.NoError(t, err, "%q/%q", p.tenant, p.id)
		_, err = s.AppendTurns(ctx, p.tenant, p.id, userTurns(fmt.Sprint("turn ", i)), memory.AppendOptions{IdempotencyKey: "{k}", RequestHash: "h"})
		require.NoError(t, err)
	}
	var want []string
	for i, p := range pairs {
		c, err := s.GetConversation(ctx, p.tenant, p.id)
		require.NoError(t, err)
		require.Equal(t, fmt.Sprint(i), c.UserID)
		turns, err := s.Turns(ctx, p.tenant, p.id, 0, 0)
		require.NoError(t, err)
		require.Len(t, turns, 1)
		require.Equal(t, fmt.Sprint("turn ", i), turns[0].Content)
		if p.tenant == "t{1}" {
			want = append(want, p.id)
		}
	}
	sort.Strings(want)
	list, err := s.ListConversations(ctx, memory.ListOptions{Tenant: "t{1}"})
	require.NoError(t, err)
	var got []string
	for _, c := range list {
		got = append(got, c.ID)
	}
	require.Equal(t, want, got, "ascending byte order of ids")
	for _, p := range pairs {
		require.NoError(t, s.DeleteConversation(ctx, p.tenant, p.id))
	}
}

func testListSkipsDangling(t *testing.T, b *backend) {
	ctx := t.Context()
	s, prefix := b.open(t, redisstore.Config{})
	defer s.Close()
	for _, id := range []string{"a", "c", "e"} {
		create(t, s, tenant, id)
	}
	// As left by a delete interrupted between its two steps.
	index := prefix + ":tenant:{acme}:convs"
	require.NoError(t, b.raw.ZAdd(ctx, index, redis.Z{Member: "b"}, redis.Z{Member: "d"}).Err())

	list, err := s.ListConversations(ctx, memory.ListOptions{Tenant: tenant, Limit: 2})
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, "a", list[0].ID)
	require.Equal(t, "c", list[1].ID, "the page is refilled past the dangling id")
	list, err = s.ListConversations(ctx, memory.ListOptions{Tenant: tenant, After: "c", Limit: 2})
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, "e", list[0].ID)
}

func testListFilterScansPages(t *testing.T, b *backend) {
	ctx := t.Context()
	s, _ := b.open(t, redisstore.Config{})
	defer s.Close()
	const n = 450 // more than two scan pages
	for i := range n {
		user := "other"
		if i%150 == 0 {
			user = "rare"
		}
		_, err := s.CreateConversation(ctx, memory.Conversation{Tenant: tenant, ID: fmt.Sprintf("c%03d", i), UserID: user})
		require.NoError(t, err)
	}
	list, err := s.ListConversations(ctx, memory.ListOptions{Tenant: tenant, UserID: "rare", Limit: 2})
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, "c000", list[0].ID)
	require.Equal(t, "c150", list[1].ID)
	list, err = s.ListConversations(ctx, memory.ListOptions{Tenant: tenant, UserID: "rare", After: "c150"})
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, "c300", list[0].ID)
}

func testClosedStore(t *testing.T, b *backend) {
	s, _ := b.open(t, redisstore.Config{})
	create(t, s, tenant, "c")
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "Close is idempotent")
	ctx := t.Context()
	_, err := s.GetConversation(ctx, tenant, "c")
	require.Error(t, err)
	require.NotErrorIs(t, err, memory.ErrNotFound, "a connection error is not a domain error")
	_, err = s.AppendTurns(ctx, tenant, "c", userTurns("x"), memory.AppendOptions{})
	require.Error(t, err)
	require.NotErrorIs(t, err, memory.ErrNotFound)
	require.NotErrorIs(t, err, memory.ErrConflict)
	require.Error(t, s.Ping(ctx))
}

func testMaxBatch(t *testing.T, b *backend) {
	ctx := t.Context()
	s, _ := b.open(t, redisstore.Config{})
	defer s.Close()
	create(t, s, tenant, "c")
	batch := make([]memory.Turn, memory.MaxAppendTurns)
	for i := range batch {
		batch[i] = memory.Turn{Role: memory.RoleUser, Content: fmt.Sprint(i)}
	}
	got, err := s.AppendTurns(ctx, tenant, "c", batch, memory.AppendOptions{IdempotencyKey: "k", RequestHash: "h"})
	require.NoError(t, err)
	require.Len(t, got, memory.MaxAppendTurns)
	again, err := s.AppendTurns(ctx, tenant, "c", batch, memory.AppendOptions{IdempotencyKey: "k", RequestHash: "h"})
	require.NoError(t, err)
	require.Equal(t, got, again)
	last, err := s.LastTurns(ctx, tenant, "c", 1)
	require.NoError(t, err)
	require.EqualValues(t, memory.MaxAppendTurns, last[0].Seq)
	require.Equal(t, fmt.Sprint(memory.MaxAppendTurns-1), last[0].Content)
}

// testSummaryLayout checks the documented summary keys: names in
// sums:order, JSON without stale in sums, stale names in sums:stale.
func testSummaryLayout(t *testing.T, b *backend) {
	ctx := t.Context()
	s, prefix := b.open(t, redisstore.Config{})
	defer s.Close()
	create(t, s, tenant, "c")
	_, err := s.AppendTurns(ctx, tenant, "c", userTurns("1", "2", "3"), memory.AppendOptions{})
	require.NoError(t, err)
	for _, sm := range []memory.Summary{
		{Level: 0, FromSeq: 1, ToSeq: 2, Content: "a"},
		{Level: 0, FromSeq: 3, ToSeq: 3, Content: "b"},
		{Level: 12, FromSeq: 1, ToSeq: 3, Content: "c"},
	} {
		_, err := s.AddSummary(ctx, tenant, "c", sm)
		require.NoError(t, err)
	}
	require.NoError(t, s.DeleteTurn(ctx, tenant, "c", 3))
	base := prefix + ":{acme/c}:"
	names := []string{
		"0000000000:0000000000000000001:0000000000000000002",
		"0000000000:0000000000000000003:0000000000000000003",
		"0000000012:0000000000000000001:0000000000000000003",
	}
	got, err := b.raw.ZRange(ctx, base+"sums:order", 0, -1).Result()
	require.NoError(t, err)
	require.Equal(t, names, got)
	stale, err := b.raw.SMembers(ctx, base+"sums:stale").Result()
	require.NoError(t, err)
	sort.Strings(stale)
	require.Equal(t, names[1:], stale)
	doc, err := b.raw.HGet(ctx, base+"sums", names[2]).Result()
	require.NoError(t, err)
	require.Contains(t, doc, `"content":"c"`)
	require.NotContains(t, doc, "stale", "Stale lives in sums:stale only")
}

func summaryOf(from, to int64, content string) memory.Summary {
	at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	return memory.Summary{Level: 0, FromSeq: from, ToSeq: to, FromTime: at, ToTime: at, Content: content, Tokens: 2}
}

func contents(sums []memory.Summary) []string {
	out := []string{}
	for _, sm := range sums {
		c := sm.Content
		if sm.Stale {
			c += " (stale)"
		}
		out = append(out, c)
	}
	return out
}

// testSummaryCacheAcrossNodes: two stores on one Redis are two longmem
// nodes. Node a reads (filling its cache) after every change node b makes,
// and must see each one.
func testSummaryCacheAcrossNodes(t *testing.T, b *backend) {
	ctx := t.Context()
	nodeB, prefix := b.open(t, redisstore.Config{})
	defer nodeB.Close()
	nodeA := b.openAt(t, prefix)
	defer nodeA.Close()
	turns := make([]string, 40)
	for i := range turns {
		turns[i] = fmt.Sprint("turn ", i+1)
	}
	create(t, nodeB, tenant, "c")
	_, err := nodeB.AppendTurns(ctx, tenant, "c", userTurns(turns...), memory.AppendOptions{})
	require.NoError(t, err)
	readA := func() []string {
		t.Helper()
		got, err := nodeA.Summaries(ctx, tenant, "c")
		require.NoError(t, err)
		return contents(got)
	}
	require.Empty(t, readA())

	_, err = nodeB.AddSummary(ctx, tenant, "c", summaryOf(1, 10, "first"))
	require.NoError(t, err)
	require.Equal(t, []string{"first"}, readA(), "an add on another node")
	require.Equal(t, []string{"first"}, readA(), "read again (from the cache)")

	_, err = nodeB.ReplaceSummary(ctx, tenant, "c", summaryOf(1, 10, "rebuilt"))
	require.NoError(t, err)
	require.Equal(t, []string{"rebuilt"}, readA(), "a replace on another node")

	require.NoError(t, nodeB.DeleteTurn(ctx, tenant, "c", 5))
	require.Equal(t, []string{"rebuilt (stale)"}, readA(), "a forget on another node")
	require.NoError(t, nodeB.DeleteTurn(ctx, tenant, "c", 30), "a forget no summary holds")
	require.Equal(t, []string{"rebuilt (stale)"}, readA())

	_, err = nodeB.ReplaceSummary(ctx, tenant, "c", summaryOf(1, 10, "without 5"))
	require.NoError(t, err)
	require.Equal(t, []string{"without 5"}, readA())

	require.NoError(t, nodeB.DeleteConversation(ctx, tenant, "c"))
	_, err = nodeA.Summaries(ctx, tenant, "c")
	require.ErrorIs(t, err, memory.ErrNotFound, "a delete on another node")

	// Re-created with as many summary writes as before (4): the same
	// count, a different conversation.
	create(t, nodeB, tenant, "c")
	_, err = nodeB.AppendTurns(ctx, tenant, "c", userTurns(turns...), memory.AppendOptions{})
	require.NoError(t, err)
	for from := int64(1); from <= 31; from += 10 {
		_, err = nodeB.AddSummary(ctx, tenant, "c", summaryOf(from, from+9, fmt.Sprint("again ", from)))
		require.NoError(t, err)
	}
	require.Equal(t, []string{"again 1", "again 11", "again 21", "again 31"}, readA(), "a delete and re-create on another node")

	// And a's own writes are seen by b.
	got, err := nodeB.Summaries(ctx, tenant, "c")
	require.NoError(t, err)
	require.Len(t, got, 4)
	_, err = nodeA.ReplaceSummary(ctx, tenant, "c", summaryOf(31, 40, "by a"))
	require.NoError(t, err)
	got, err = nodeB.Summaries(ctx, tenant, "c")
	require.NoError(t, err)
	require.Equal(t, []string{"again 1", "again 11", "again 21", "by a"}, contents(got))
}

// testSummaryCacheCopies: what a caller does to the slice it got never
// shows in later reads.
func testSummaryCacheCopies(t *testing.T, b *backend) {
	ctx := t.Context()
	s, _ := b.open(t, redisstore.Config{})
	defer s.Close()
	create(t, s, tenant, "c")
	_, err := s.AppendTurns(ctx, tenant, "c", userTurns("1", "2", "3", "4"), memory.AppendOptions{})
	require.NoError(t, err)
	for _, sm := range []memory.Summary{summaryOf(1, 2, "a"), summaryOf(3, 4, "b")} {
		_, err := s.AddSummary(ctx, tenant, "c", sm)
		require.NoError(t, err)
	}
	for range 2 { // the first read fills the cache, the second is served by it
		got, err := s.Summaries(ctx, tenant, "c")
		require.NoError(t, err)
		require.Equal(t, []string{"a", "b"}, contents(got))
		got[0].Content = "changed by a caller"
		got[1].Stale = true
		got[1].ConversationID = "other"
		_ = append(got[:1], summaryOf(9, 9, "appended"))
	}
	got, err := s.Summaries(ctx, tenant, "c")
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b"}, contents(got))
	require.Equal(t, "c", got[1].ConversationID)
}

// testSummaryCacheLegacy: a conversation without a version (created
// before versions existed) is never served from the cache, until a
// summary write gives it one.
func testSummaryCacheLegacy(t *testing.T, b *backend) {
	ctx := t.Context()
	s, prefix := b.open(t, redisstore.Config{})
	defer s.Close()
	create(t, s, tenant, "c")
	_, err := s.AppendTurns(ctx, tenant, "c", userTurns("1", "2", "3", "4"), memory.AppendOptions{})
	require.NoError(t, err)
	_, err = s.AddSummary(ctx, tenant, "c", summaryOf(1, 2, "a"))
	require.NoError(t, err)
	base := prefix + ":{acme/c}:"
	require.NoError(t, b.raw.Del(ctx, base+"sums:ver").Err())
	read := func() []string {
		t.Helper()
		got, err := s.Summaries(ctx, tenant, "c")
		require.NoError(t, err)
		return contents(got)
	}
	require.Equal(t, []string{"a"}, read())
	// A write that does not bump the version (an older node's).
	name := "0000000000:0000000000000000001:0000000000000000002"
	doc, err := b.raw.HGet(ctx, base+"sums", name).Result()
	require.NoError(t, err)
	require.NoError(t, b.raw.HSet(ctx, base+"sums", name, strings.Replace(doc, `"content":"a"`, `"content":"old node"`, 1)).Err())
	require.Equal(t, []string{"old node"}, read(), "not cached without a version")

	_, err = s.AddSummary(ctx, tenant, "c", summaryOf(3, 4, "b"))
	require.NoError(t, err)
	n, err := b.raw.Exists(ctx, base+"sums:ver").Result()
	require.NoError(t, err)
	require.EqualValues(t, 1, n, "the write gave the conversation a version")
	require.Equal(t, []string{"old node", "b"}, read())
	require.Equal(t, []string{"old node", "b"}, read())
}

func TestNewFailsWithoutServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	// Port 1 on loopback: nothing listens there.
	_, err := redisstore.New(ctx, redisstore.Config{Addrs: []string{"127.0.0.1:1"}})
	require.Error(t, err)
}
