package retrieval

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/memory"
	"github.com/longmem/longmem/memory/embedded"
)

// memIndex is an in-test Index over exact lexical search, with a switch
// that makes every call fail as a remote index (Qdrant) does when it is
// down. The real backends run the indextest contract; this one only has to
// fail on demand (retrieval cannot import embeddedindex here).
type memIndex struct {
	down atomic.Bool
	docs map[string]map[int64]Doc
}

var errIndexDown = errors.New("connection refused")

func (m *memIndex) err() error {
	if m.down.Load() {
		return errIndexDown
	}
	return nil
}

func (m *memIndex) Upsert(_ context.Context, conv string, docs []Doc) error {
	if err := m.err(); err != nil {
		return err
	}
	if m.docs[conv] == nil {
		m.docs[conv] = map[int64]Doc{}
	}
	for _, d := range docs {
		m.docs[conv][d.Seq] = d
	}
	return nil
}
func (m *memIndex) Delete(context.Context, string, []int64) error    { return m.err() }
func (m *memIndex) DeleteConversation(context.Context, string) error { return m.err() }
func (m *memIndex) Close() error                                     { return nil }
func (m *memIndex) Watermark(_ context.Context, conv string) (int64, error) {
	var wm int64
	for s := range m.docs[conv] {
		wm = max(wm, s)
	}
	return wm, m.err()
}
func (m *memIndex) Search(_ context.Context, conv string, q Query) (Result, error) {
	if err := m.err(); err != nil {
		return Result{}, err
	}
	var res Result
	for seq, d := range m.docs[conv] {
		if q.MaxSeq > 0 && seq > q.MaxSeq {
			continue
		}
		var s float64
		for _, qt := range q.Terms {
			for _, t := range d.Terms {
				if t.ID == qt.ID {
					s += float64(qt.Weight)
				}
			}
		}
		if s > 0 {
			res.Lexical = append(res.Lexical, Hit{Seq: seq, Score: s + 1/float64(seq+1)})
		}
	}
	return res, nil
}
func (m *memIndex) Get(_ context.Context, conv string, seqs []int64, _ bool) ([]Doc, error) {
	if err := m.err(); err != nil {
		return nil, err
	}
	var out []Doc
	for _, s := range seqs {
		if d, ok := m.docs[conv][s]; ok {
			out = append(out, d)
		}
	}
	return out, nil
}

func TestRecallDegradesWhenTheIndexOrTheEmbedderFails(t *testing.T) {
	ctx := context.Background()
	st, err := embedded.Open(embedded.Config{Dir: t.TempDir()})
	require.NoError(t, err)
	defer st.Close()
	tok, err := NewTokenizer(TokenizerConfig{})
	require.NoError(t, err)
	fake := &openAIFakeServer{}
	var embedDown atomic.Bool
	fake.fail = func(int) (int, string) {
		if embedDown.Load() {
			return 503, `{"error":{"message":"overloaded"}}`
		}
		return 0, ""
	}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	emb, _ := openAITestEmbedder(t, srv, OpenAIConfig{MaxRetries: -1})
	idx := &memIndex{docs: map[string]map[int64]Doc{}}
	ix := NewIndexer(st, idx, NewAnalyzer(AnalyzerConfig{}), tok, emb)
	a := NewAssembler(AssemblerConfig{Budget: BudgetPolicy{RecentMaxTurns: 4}}, st, ix, tok)

	_, err = st.CreateConversation(ctx, memory.Conversation{ID: "c"})
	require.NoError(t, err)
	appendTurns := func(texts ...string) {
		var turns []memory.Turn
		for _, s := range texts {
			turns = append(turns, memory.Turn{Role: memory.RoleUser, Content: s, Tokens: tok.Count(s), CreatedAt: time.Date(2025, 2, 1, 10, 0, 0, 0, time.UTC)})
		}
		_, err := st.AppendTurns(ctx, "", "c", turns, memory.AppendOptions{})
		require.NoError(t, err)
	}
	fact := "The spare key hangs behind the blue lantern in the shed."
	texts := []string{fact}
	for i := range 30 {
		texts = append(texts, fmt.Sprintf("Small talk number %d about the weather and the trains.", i))
	}
	appendTurns(texts...)
	ask := func() Context {
		t.Helper()
		out, err := a.Assemble(ctx, Request{ConversationID: "c", Message: Message{Content: "Where is the spare key?"}, BudgetTokens: 600})
		require.NoError(t, err, "a failing index or embedder never fails the context")
		return out
	}
	holds := func(out Context, s string) bool {
		for _, m := range out.Messages {
			if strings.Contains(m.Content, s) {
				return true
			}
		}
		return false
	}

	out := ask()
	require.Empty(t, out.Report.Degraded)
	require.True(t, holds(out, fact))

	// The embedder fails: vector recall is left out, lexical recall still
	// finds the fact; new turns cannot be indexed meanwhile.
	embedDown.Store(true)
	appendTurns("One more remark about the trains.")
	out = ask()
	require.True(t, holds(out, fact), "lexical recall goes on without vectors")
	require.NotEmpty(t, out.Report.Degraded)
	require.Contains(t, strings.Join(out.Report.Degraded, "\n"), "embedder unavailable")
	require.Positive(t, a.DegradedTotal(PartEmbedder))
	require.True(t, holds(out, "One more remark about the trains."), "the recent window comes from the store")
	embedDown.Store(false)

	// The index fails: no recalled turns, the recent window and the message
	// still make a context, and the report says why.
	idx.down.Store(true)
	before := a.DegradedTotal(PartIndex)
	out = ask()
	require.False(t, holds(out, fact), "nothing is recalled without the index")
	require.True(t, holds(out, "One more remark about the trains."))
	require.Contains(t, strings.Join(out.Report.Degraded, "\n"), "index unavailable")
	require.Greater(t, a.DegradedTotal(PartIndex), before)

	// Back up: recall catches up and the report is clean again.
	idx.down.Store(false)
	out = ask()
	require.Empty(t, out.Report.Degraded)
	require.True(t, holds(out, fact))

	// The store is the truth: a request whose context is gone fails as
	// before, whatever the index does.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	idx.down.Store(true)
	_, err = a.Assemble(cctx, Request{ConversationID: "c", Message: Message{Content: "Where is the spare key?"}, BudgetTokens: 600})
	require.Error(t, err)
}
