package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/compaction"
	"github.com/longmem/longmem/memory"
	"github.com/longmem/longmem/memory/embedded"
)

// countingCompactor is a real compaction.Worker that also counts triggers.
type countingCompactor struct {
	*compaction.Worker
	mu       sync.Mutex
	triggers map[string]int
}

func (c *countingCompactor) Trigger(tenant, id string) {
	c.mu.Lock()
	c.triggers[tenant+"/"+id]++
	c.mu.Unlock()
	c.Worker.Trigger(tenant, id)
}

func (c *countingCompactor) count(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.triggers[key]
}

// newCompactingEnv is newEnv with a compaction worker (not running in the
// background: only …/compact compacts) keeping the last 10 turns.
func newCompactingEnv(t *testing.T) (*env, *countingCompactor) {
	t.Helper()
	store, err := embedded.Open(embedded.Config{Dir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, store.Close()) })
	w, err := compaction.NewWorker(compaction.Config{KeepRecentTurns: 10, ChunkTokens: 300},
		compaction.Deps{Store: store, Tokenizer: tok})
	require.NoError(t, err)
	cc := &countingCompactor{Worker: w, triggers: map[string]int{}}
	srv, err := New(Config{}, recallDeps(t, Deps{Store: store, Tokenizer: tok, Registerer: prometheus.NewRegistry(), Compactor: cc}))
	require.NoError(t, err)
	return &env{t: t, srv: srv, store: store}, cc
}

func (e *env) summaries(id string) []summaryResponse {
	e.t.Helper()
	var out summariesResponse
	require.NoError(e.t, json.Unmarshal(e.must(http.StatusOK, "GET", "/v1/conversations/"+id+"/summaries", "").body, &out))
	require.NotNil(e.t, out.Summaries, "summaries is a list, never null")
	return out.Summaries
}

func TestSummariesAndCompact(t *testing.T) {
	e, cc := newCompactingEnv(t)
	id := e.createConversation("c")
	require.Empty(t, e.summaries(id))

	var contents []string
	for i := range 60 {
		contents = append(contents, fmt.Sprintf("Turn %d: Tomas told Ines that her cat number %d likes the garden in Paris on 8 May 2023.", i, i))
	}
	e.appendContents(id, contents...)
	require.Equal(t, 1, cc.count("/c"), "an append triggers compaction")

	r := e.must(http.StatusOK, "POST", "/v1/conversations/"+id+"/compact", "")
	var res compactResponse
	require.NoError(t, json.Unmarshal(r.body, &res))
	require.Equal(t, 50, res.LagBefore, "60 turns, 10 kept recent")
	require.NotEmpty(t, res.Written)
	require.Empty(t, res.Reason, "no reason when something was written")

	sums := e.summaries(id)
	require.Equal(t, res.Summaries, sums)
	// Level 0 tiles 1..50 contiguously.
	next := int64(1)
	for _, s := range sums {
		if s.Level != 0 {
			continue
		}
		require.Equal(t, next, s.FromSeq, "contiguous coverage")
		require.NotEmpty(t, s.Content)
		require.Positive(t, s.Tokens)
		require.Equal(t, "extractive", s.Producer)
		require.False(t, s.CreatedAt.IsZero())
		next = s.ToSeq + 1
	}
	require.Equal(t, int64(51), next, "every turn older than the recent window is covered")

	// A second call has nothing left to do and writes nothing.
	r = e.must(http.StatusOK, "POST", "/v1/conversations/"+id+"/compact", "")
	require.NoError(t, json.Unmarshal(r.body, &res))
	require.Empty(t, res.Written)
	require.Equal(t, 0, res.LagBefore)
	require.Contains(t, res.Reason, "turns 1–50 are summarised already")
	require.Contains(t, res.Reason, "up to seq 60")

	// A short conversation: nothing yet, and it says why.
	short := e.createConversation("short")
	e.appendContents(short, "Hello there.", "Hi! How are you?", "Fine, thanks.")
	res = compactResponse{}
	require.NoError(t, json.Unmarshal(e.must(http.StatusOK, "POST", "/v1/conversations/"+short+"/compact", "").body, &res))
	require.Empty(t, res.Written)
	require.Contains(t, res.Reason, "all of the conversation's turns (up to seq 3) are in the recent window")
	require.Contains(t, res.Reason, "keep_recent_turns")

	// The context uses them; the call triggers the compactor too.
	ctx := e.context(id, `{"message":{"role":"user","content":"what does the cat like?"},"budget_tokens":600}`)
	require.NotEmpty(t, ctx.Report.Summaries)
	found := false
	for _, s := range ctx.Report.Sections {
		found = found || (strings.Contains(s.Name, "summar") && s.Tokens > 0)
	}
	require.True(t, found, "a summaries section: %+v", ctx.Report.Sections)
	require.Equal(t, 2, cc.count("/c"))

	// Asked without summaries, the same context has none.
	ctx = e.context(id, `{"message":{"role":"user","content":"what does the cat like?"},"budget_tokens":600,"no_summaries":true}`)
	require.Empty(t, ctx.Report.Summaries)
}

func TestForgetTriggersRebuild(t *testing.T) {
	e, cc := newCompactingEnv(t)
	id := e.createConversation("f")
	var contents []string
	for i := range 30 {
		contents = append(contents, fmt.Sprintf("Turn %d: Ines painted lake number %d at sunrise.", i, i))
	}
	e.appendContents(id, contents...)
	e.must(http.StatusOK, "POST", "/v1/conversations/"+id+"/compact", "")
	before := cc.count("/f")

	e.must(http.StatusNoContent, "DELETE", "/v1/conversations/"+id+"/turns/3", "")
	require.Equal(t, before+1, cc.count("/f"), "a forget triggers compaction, so the stale summary is rebuilt without waiting for the next append")
	stale := 0
	for _, s := range e.summaries(id) {
		if s.Stale {
			stale++
		}
	}
	require.Equal(t, 1, stale, "the summary covering turn 3 is stale until rebuilt")

	// A forget that fails (the turn is gone) triggers nothing.
	e.must(http.StatusNotFound, "DELETE", "/v1/conversations/"+id+"/turns/3", "")
	require.Equal(t, before+1, cc.count("/f"))
}

func TestSummariesErrors(t *testing.T) {
	e, _ := newCompactingEnv(t)
	code, msg := e.must(http.StatusNotFound, "GET", "/v1/conversations/nope/summaries", "").errorCode(t)
	require.Equal(t, "not_found", code)
	require.Contains(t, msg, `"nope"`)
	code, _ = e.must(http.StatusNotFound, "POST", "/v1/conversations/nope/compact", "").errorCode(t)
	require.Equal(t, "not_found", code)

	// Another tenant's conversation is not found either.
	store, err := embedded.Open(embedded.Config{Dir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, store.Close()) })
	w, err := compaction.NewWorker(compaction.Config{}, compaction.Deps{Store: store, Tokenizer: tok})
	require.NoError(t, err)
	srv, err := New(Config{Keys: []Key{{Key: "ka", Tenant: "a"}, {Key: "kb", Tenant: "b"}}},
		recallDeps(t, Deps{Store: store, Tokenizer: tok, Registerer: prometheus.NewRegistry(), Compactor: w}))
	require.NoError(t, err)
	te := &env{t: t, srv: srv, store: store}
	te.as("ka").must(http.StatusCreated, "POST", "/v1/conversations", `{"id":"x"}`)
	te.as("kb").must(http.StatusNotFound, "GET", "/v1/conversations/x/summaries", "")
	te.as("kb").must(http.StatusNotFound, "POST", "/v1/conversations/x/compact", "")
	te.as("ka").must(http.StatusOK, "POST", "/v1/conversations/x/compact", "")
	_, err = w.CompactNow(context.Background(), "b", "x")
	require.Error(t, err)
}

func TestCompactWithoutCompactor(t *testing.T) {
	e := newEnv(t, Config{})
	id := e.createConversation("c")
	code, msg := e.must(http.StatusNotImplemented, "POST", "/v1/conversations/"+id+"/compact", "").errorCode(t)
	require.Equal(t, "not_implemented", code)
	require.Contains(t, msg, "compaction")
	require.Empty(t, e.summaries(id), "listing works without a compactor")
}

// TestForgetTriggersARebuild forgets a turn a summary covers: the summary
// turns stale, the forget triggers the compactor, and a run rebuilds it
// without the turn.
func TestForgetTriggersARebuild(t *testing.T) {
	e, cc := newCompactingEnv(t)
	id := e.createConversation("c")
	var contents []string
	for i := range 40 {
		contents = append(contents, fmt.Sprintf("Turn %d: Ines mentioned her garden and the weather on day %d.", i, i))
	}
	contents[4] = "On 3 March 2024 Ines told Tomas her locker code at Lisbon Central Station is zebra-quince-42."
	e.appendContents(id, contents...)
	e.must(http.StatusOK, "POST", "/v1/conversations/"+id+"/compact", "")
	before := ""
	for _, s := range e.summaries(id) {
		before += s.Content
	}
	require.Contains(t, before, "zebra-quince", "the summary carried the turn before the forget")
	triggers := cc.count("/c")

	e.must(http.StatusNoContent, "DELETE", "/v1/conversations/"+id+"/turns/5", "")
	require.Equal(t, triggers+1, cc.count("/c"), "a forget triggers the compactor")
	stale := false
	for _, s := range e.summaries(id) {
		stale = stale || (s.Stale && s.FromSeq <= 5 && 5 <= s.ToSeq)
	}
	require.True(t, stale, "the summary covering the forgotten turn is stale until rebuilt")

	var res compactResponse
	require.NoError(t, json.Unmarshal(e.must(http.StatusOK, "POST", "/v1/conversations/"+id+"/compact", "").body, &res))
	require.Equal(t, 1, res.Rebuilt)
	for _, s := range e.summaries(id) {
		require.False(t, s.Stale)
		require.NotContains(t, s.Content, "zebra-quince")
	}
}

func TestNothingWrittenReason(t *testing.T) {
	sum := func(level int, from, to int64, stale bool) memory.Summary {
		return memory.Summary{Level: level, FromSeq: from, ToSeq: to, Stale: stale}
	}
	for _, tc := range []struct {
		name string
		last int64
		sums []memory.Summary
		want string
	}{
		{"empty conversation", 0, nil, "has no turns yet"},
		{"all recent", 7, nil, "all of the conversation's turns (up to seq 7) are in the recent window"},
		{"covered", 130, []memory.Summary{sum(0, 1, 20, false), sum(0, 21, 30, false), sum(1, 1, 30, false)}, "turns 1–30 are summarised already, and turns after 30 (up to seq 130)"},
		{"stale ignored", 40, []memory.Summary{sum(0, 1, 20, false), sum(0, 21, 30, true)}, "turns 1–20 are summarised already"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Contains(t, nothingWrittenReason(tc.last, tc.sums), tc.want)
		})
	}
}
