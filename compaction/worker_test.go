package compaction

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/memory"
	"github.com/longmem/longmem/memory/embedded"
)

// fullStore is a memory.Store that keeps summaries, as both backends do.
type fullStore interface {
	memory.Store
	memory.SummaryStore
}

func openStore(t testing.TB) fullStore {
	t.Helper()
	st, err := embedded.Open(embedded.Config{Dir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	var s memory.Store = st
	fs, ok := s.(fullStore)
	require.True(t, ok, "embedded.Store implements memory.SummaryStore")
	return fs
}

// Vocabulary of the generated conversations.
var (
	genPeople  = []string{"Oscar", "Luna", "Priya", "Daniel", "Grandma Rose", "Dr. Patel", "Aunt Maria"}
	genPlaces  = []string{"Norway", "the Dolomites", "Boston", "the Louvre", "Lake Tahoe", "Kyoto", "the harvest fair"}
	genPets    = []string{"Rex", "Mittens", "Biscuit", "Pepper"}
	genMonths  = []string{"January", "March", "June", "August", "October", "December"}
	genFillers = []string{"Thanks!", "Wow, nice pic!", "Haha, that's so true.", "That sounds like fun.",
		"How was your day?", "Totally agree with you.", "Really? Tell me more.", "Good to hear from you!",
		"I know, right?", "That's awesome, I'm happy for you.", "Oh wow.", "Yeah, totally."}
)

func genFact(r *rand.Rand) string {
	p := func(l []string) string { return l[r.IntN(len(l))] }
	switch r.IntN(8) {
	case 0:
		return fmt.Sprintf("I went to %s yesterday with %s.", p(genPlaces), p(genPeople))
	case 1:
		return fmt.Sprintf("My friend %s is visiting on %d %s.", p(genPeople), 1+r.IntN(28), p(genMonths))
	case 2:
		return fmt.Sprintf("I adopted a puppy named %s last week.", p(genPets))
	case 3:
		return fmt.Sprintf("We are moving to %s in %s.", p(genPlaces), p(genMonths))
	case 4:
		return fmt.Sprintf("I will call %s next Friday, I promise.", p(genPeople))
	case 5:
		return fmt.Sprintf("I started a new job as a nurse at %d Elm Street.", 10+r.IntN(90))
	case 6:
		return fmt.Sprintf("%s and I went hiking near %s on Sunday.", p(genPeople), p(genPlaces))
	default:
		return fmt.Sprintf("I have been painting every morning since %s.", p(genMonths))
	}
}

// genConversation makes n turns between Ines and Tomas in sessions
// of 15–35 turns, a minute or two apart, with gaps of 1–14 days between
// sessions; about half the turns state a fact among chatter.
func genConversation(seed uint64, n int) []memory.Turn {
	r := rand.New(rand.NewPCG(seed, 42))
	at := time.Date(2023, 5, 8, 13, 56, 0, 0, time.UTC)
	var turns []memory.Turn
	left := 0
	for i := range n {
		if left == 0 {
			left = 15 + r.IntN(21)
			if i > 0 {
				at = at.Add(time.Duration(1+r.IntN(14)) * 24 * time.Hour)
			}
		}
		left--
		at = at.Add(time.Duration(40+r.IntN(80)) * time.Second)
		var parts []string
		for k := 0; k < 1+r.IntN(3); k++ {
			if r.IntN(2) == 0 {
				parts = append(parts, genFact(r))
			} else {
				parts = append(parts, genFillers[r.IntN(len(genFillers))])
			}
		}
		name, role := "Ines", memory.RoleUser
		if i%2 == 1 {
			name, role = "Tomas", memory.RoleAssistant
		}
		turns = append(turns, memory.Turn{Role: role, Name: name, Content: strings.Join(parts, " "), CreatedAt: at})
	}
	return turns
}

// ingest creates conversation id and appends turns with their tokens.
func ingest(t testing.TB, st memory.Store, tenant, id string, turns []memory.Turn) []memory.Turn {
	t.Helper()
	ctx := context.Background()
	_, err := st.CreateConversation(ctx, memory.Conversation{ID: id, Tenant: tenant})
	require.NoError(t, err)
	tok := testTokenizer()
	for i := range turns {
		turns[i].Tokens = tok.Count(turns[i].Content)
	}
	var out []memory.Turn
	for len(turns) > 0 {
		n := min(len(turns), memory.MaxAppendTurns)
		got, err := st.AppendTurns(ctx, tenant, id, turns[:n], memory.AppendOptions{})
		require.NoError(t, err)
		out = append(out, got...)
		turns = turns[n:]
	}
	return out
}

func newWorker(t testing.TB, st Store, cfg Config, deps Deps) *Worker {
	t.Helper()
	deps.Store = st
	if deps.Tokenizer == nil {
		deps.Tokenizer = testTokenizer()
	}
	w, err := NewWorker(cfg, deps)
	require.NoError(t, err)
	return w
}

// checkCoverage asserts the summary invariants: every level is one
// gapless chain from seq 1; level 0 covers exactly the turns older than
// the last keep turns (through the last old turn's seq); each level ≥ 1
// summary tiles level-(k-1) summaries; no summary is stale; each level-0
// summary is at most a third of its chunk's tokens.
func checkCoverage(t *testing.T, sums []memory.Summary, turns []memory.Turn, keep int) {
	t.Helper()
	byLevel := map[int][]memory.Summary{}
	top := -1
	for _, s := range sums {
		byLevel[s.Level] = append(byLevel[s.Level], s)
		top = max(top, s.Level)
		require.False(t, s.Stale, "summary %d:%d-%d is stale", s.Level, s.FromSeq, s.ToSeq)
		require.NotEmpty(t, s.Content)
		require.Equal(t, testTokenizer().Count(s.Content), s.Tokens)
	}
	for l := 0; l <= top; l++ {
		chain := byLevel[l]
		require.NotEmpty(t, chain, "level %d", l)
		var next int64 = 1
		for _, s := range chain {
			require.Equal(t, next, s.FromSeq, "level %d chain is gapless", l)
			require.GreaterOrEqual(t, s.ToSeq, s.FromSeq)
			next = s.ToSeq + 1
			if l > 0 {
				kids, ok := tiling(byLevel[l-1], s.FromSeq, s.ToSeq)
				require.True(t, ok, "level-%d summary %d-%d tiles level %d", l, s.FromSeq, s.ToSeq, l-1)
				require.GreaterOrEqual(t, len(kids), 2)
			}
		}
	}
	old := turns[:len(turns)-keep]
	level0 := byLevel[0]
	require.Equal(t, old[len(old)-1].Seq, level0[len(level0)-1].ToSeq, "level 0 covers every turn older than the window, and none after")
	for _, s := range level0 {
		chunk := 0
		for _, tn := range turns {
			if tn.Seq >= s.FromSeq && tn.Seq <= s.ToSeq {
				chunk += tn.Tokens
			}
		}
		require.LessOrEqual(t, s.Tokens, max(1, chunk/3), "level-0 summary %d-%d of a %d-token chunk", s.FromSeq, s.ToSeq, chunk)
	}
}

func TestCompactNow600Turns(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	turns := ingest(t, st, "acme", "c600", genConversation(1, 600))
	reg := prometheus.NewRegistry()
	w := newWorker(t, st, Config{}, Deps{Registerer: reg})

	start := time.Now()
	res, err := w.CompactNow(ctx, "acme", "c600")
	require.NoError(t, err)
	t.Logf("compacted 600 turns in %s: %d summaries, lag %d → %d", time.Since(start), len(res.Written), res.LagBefore, res.Lag)
	require.Equal(t, 500, res.LagBefore)
	require.Zero(t, res.Lag)
	require.Zero(t, res.Conflicts)

	sums, err := st.Summaries(ctx, "acme", "c600")
	require.NoError(t, err)
	require.Len(t, sums, len(res.Written))
	checkCoverage(t, sums, turns, DefaultKeepRecentTurns)

	level0 := 0
	levels := map[int]int{}
	for _, s := range sums {
		levels[s.Level]++
		if s.Level == 0 {
			level0 += s.Tokens
		}
		require.Equal(t, ProducerExtractive, s.Producer)
		require.Regexp(t, `^\[\d{1,2} [A-Z][a-z]+ 20\d\d\] (Ines|Tomas): `, s.Content)
	}
	t.Logf("summaries per level: %v; level-0 tokens %d", levels, level0)
	require.Greater(t, level0, DefaultLevelTokens, "the generated history outgrows LevelTokens at level 0")
	require.Positive(t, levels[1], "so level 1 exists")
	// Nothing is left to do: the plan over the final state is empty.
	rest := Plan(Config{}, PlanInput{Turns: turns, Summaries: sums, Flush: true})
	require.Empty(t, rest.Jobs)

	// A rerun is idempotent.
	again, err := w.CompactNow(ctx, "acme", "c600")
	require.NoError(t, err)
	require.Empty(t, again.Written)
	after, err := st.Summaries(ctx, "acme", "c600")
	require.NoError(t, err)
	require.Equal(t, sums, after)

	require.Equal(t, float64(len(sums)), gathered(t, reg, "longmem_compaction_summaries_written_total"))
	require.Equal(t, float64(2), gathered(t, reg, "longmem_compaction_runs_total"))
	require.Zero(t, gathered(t, reg, "longmem_compaction_lag_turns_max"))
	for l, n := range levels {
		v, ok := sampleOf(t, reg, "longmem_compaction_summaries_written_total", fmt.Sprintf("level=%d", l), "producer="+ProducerExtractive)
		require.True(t, ok, "level %d", l)
		require.Equal(t, float64(n), v, "summaries written at level %d", l)
	}
	// The two runs observed lags of 500 and 0.
	b := bucketsOf(t, reg, "longmem_compaction_lag_turns")
	require.Equal(t, uint64(1), b[0])
	require.Equal(t, uint64(1), b[250])
	require.Equal(t, uint64(2), b[500])
}

// gathered sums every sample (counter, gauge, or histogram count) of a
// metric family.
func gathered(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			switch {
			case m.GetCounter() != nil:
				total += m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				total += m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				total += float64(m.GetHistogram().GetSampleCount())
			}
		}
		return total
	}
	return 0 // a vector with no children yet gathers nothing
}

func TestCompactNowUnknownConversation(t *testing.T) {
	st := openStore(t)
	w := newWorker(t, st, Config{}, Deps{})
	_, err := w.CompactNow(context.Background(), "acme", "nope")
	require.ErrorIs(t, err, memory.ErrNotFound)
}

func TestForgottenTurnIsRebuiltOut(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	turns := ingest(t, st, "acme", "c", genConversation(2, 200))
	w := newWorker(t, st, Config{}, Deps{})
	_, err := w.CompactNow(ctx, "acme", "c")
	require.NoError(t, err)
	sums, err := st.Summaries(ctx, "acme", "c")
	require.NoError(t, err)

	// Forget the turn behind a sentence of the first summary that no
	// other turn says.
	var forget memory.Turn
	var fact string
	for _, line := range strings.Split(sums[0].Content, "\n") {
		_, text := splitPrefix(line)
		var holders []memory.Turn
		for _, tn := range turns {
			if strings.Contains(resolveDates(tn.Content, tn.CreatedAt), text) {
				holders = append(holders, tn)
			}
		}
		if len(holders) == 1 {
			forget, fact = holders[0], text
			break
		}
	}
	require.NotEmpty(t, fact, "the first summary has a sentence only one turn says")
	require.NoError(t, st.DeleteTurn(ctx, "acme", "c", forget.Seq))
	sums, err = st.Summaries(ctx, "acme", "c")
	require.NoError(t, err)
	require.True(t, sums[0].Stale, "the store marks it stale")

	res, err := w.CompactNow(ctx, "acme", "c")
	require.NoError(t, err)
	require.Positive(t, res.Rebuilt)
	sums, err = st.Summaries(ctx, "acme", "c")
	require.NoError(t, err)
	for _, s := range sums {
		require.NotContains(t, s.Content, fact, "level %d %d-%d", s.Level, s.FromSeq, s.ToSeq)
	}
	var remaining []memory.Turn
	for _, tn := range turns {
		if tn.Seq != forget.Seq {
			remaining = append(remaining, tn)
		}
	}
	checkCoverage(t, sums, remaining, DefaultKeepRecentTurns)
}

func TestRebuildWithEveryTurnForgotten(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	turns := ingest(t, st, "acme", "c", genConversation(3, 20))
	w := newWorker(t, st, Config{KeepRecentTurns: 10}, Deps{})
	_, err := w.CompactNow(ctx, "acme", "c")
	require.NoError(t, err)
	sums, err := st.Summaries(ctx, "acme", "c")
	require.NoError(t, err)
	require.Len(t, sums, 1)
	for _, tn := range turns[:10] {
		require.NoError(t, st.DeleteTurn(ctx, "acme", "c", tn.Seq))
	}
	res, err := w.CompactNow(ctx, "acme", "c")
	require.NoError(t, err)
	require.Equal(t, 1, res.Rebuilt)
	require.Equal(t, ForgottenSummary, res.Written[0].Content)
	require.Equal(t, ProducerNone, res.Written[0].Producer)
}

// TestConcurrentCompactionsCoverOnce runs two workers (as on two nodes) on
// the same conversation at once: AddSummary's chain check turns the loser's
// writes into conflicts, and every range is covered exactly once.
func TestConcurrentCompactionsCoverOnce(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	turns := ingest(t, st, "acme", "c", genConversation(4, 400))
	a := newWorker(t, st, Config{}, Deps{})
	b := newWorker(t, st, Config{}, Deps{})
	var wg sync.WaitGroup
	results := make([]Result, 2)
	errs := make([]error, 2)
	for i, w := range []*Worker{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = w.CompactNow(ctx, "acme", "c")
		}()
	}
	wg.Wait()
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
	sums, err := st.Summaries(ctx, "acme", "c")
	require.NoError(t, err)
	require.Len(t, sums, len(results[0].Written)+len(results[1].Written), "every summary written once")
	checkCoverage(t, sums, turns, DefaultKeepRecentTurns)
}

func TestRunCompactsTriggeredConversations(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st := openStore(t)
	turnsA := ingest(t, st, "acme", "a", genConversation(5, 300))
	turnsB := ingest(t, st, "other", "b", genConversation(6, 250))
	type ran struct {
		task Task
		err  error
	}
	done := make(chan ran, 10)
	w := newWorker(t, st, Config{}, Deps{AfterRun: func(tk Task, _ Result, err error) { done <- ran{tk, err} }})
	stopped := make(chan error)
	go func() { stopped <- w.Run(ctx) }()
	w.Trigger("acme", "a")
	w.Trigger("other", "b")
	got := map[string]bool{}
	for len(got) < 2 {
		r := <-done
		require.NoError(t, r.err)
		got[r.task.Tenant+"/"+r.task.Conversation] = true
	}
	require.Equal(t, map[string]bool{"acme/a": true, "other/b": true}, got)
	cancel()
	require.NoError(t, <-stopped)

	// The generated turns are from 2023: the conversations are quiet, so
	// the background run folds the open chunk too.
	for _, c := range []struct {
		tenant, id string
		turns      []memory.Turn
	}{{"acme", "a", turnsA}, {"other", "b", turnsB}} {
		sums, err := st.Summaries(context.Background(), c.tenant, c.id)
		require.NoError(t, err)
		checkCoverage(t, sums, c.turns, DefaultKeepRecentTurns)
	}
}

func TestLiveChatWaitsForTheOpenChunk(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	gen := genConversation(7, 130)
	now := gen[len(gen)-1].CreatedAt.Add(time.Minute) // a live chat: the last turn 5 s ago
	for i := range gen {
		gen[i].CreatedAt = now.Add(-5*time.Second - time.Duration(len(gen)-1-i)*time.Minute)
	}
	ingest(t, st, "acme", "c", gen)
	clock := func() time.Time { return now }
	w := newWorker(t, st, Config{}, Deps{Clock: clock})
	res, err := w.run(ctx, Task{Tenant: "acme", Conversation: "c"}, false)
	require.NoError(t, err)
	require.Equal(t, 30, res.LagBefore)
	require.Equal(t, res.LagBefore-coveredTurns(res.Written), res.Lag)
	require.Positive(t, res.Lag, "an open chunk is left while the chat goes on")
	require.Equal(t, gen[len(gen)-1].CreatedAt.Add(DefaultQuietAfter), res.OpenUntil, "the open chunk stands alone: folded at the first pause")
	w.mu.Lock()
	e, ok := w.dirty[convKey{"acme", "c"}]
	w.mu.Unlock()
	require.True(t, ok, "the worker comes back for it")
	require.Equal(t, res.OpenUntil, e.due)

	res, err = w.CompactNow(ctx, "acme", "c")
	require.NoError(t, err)
	require.Zero(t, res.Lag, "CompactNow folds it")
}

// coveredLevel counts the written summaries of a level.
func coveredLevel(written []memory.Summary, level int) int {
	n := 0
	for _, s := range written {
		if s.Level == level {
			n++
		}
	}
	return n
}

// coveredTurns counts the level-0 turn seqs of written summaries.
func coveredTurns(written []memory.Summary) int {
	n := 0
	for _, s := range written {
		if s.Level == 0 {
			n += int(s.ToSeq - s.FromSeq + 1)
		}
	}
	return n
}

func TestFailureBacksOff(t *testing.T) {
	st, err := embedded.Open(embedded.Config{Dir: t.TempDir()})
	require.NoError(t, err)
	var s memory.Store = st
	ingest(t, st, "acme", "c", genConversation(8, 150))
	require.NoError(t, st.Close()) // every read now fails, but not with ErrNotFound
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	w := newWorker(t, s.(Store), Config{BackoffMin: time.Second, BackoffMax: 4 * time.Second}, Deps{Clock: func() time.Time { return now }})
	k := convKey{"acme", "c"}
	for attempt, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second} {
		_, err := w.run(context.Background(), Task{Tenant: "acme", Conversation: "c", Attempt: attempt}, false)
		require.Error(t, err)
		w.mu.Lock()
		e := w.dirty[k]
		w.mu.Unlock()
		require.Equal(t, attempt+1, e.attempt)
		require.Equal(t, now.Add(want), e.due, "attempt %d", attempt+1)
	}
	w.Trigger("acme", "c")
	w.mu.Lock()
	require.Equal(t, now.Add(4*time.Second), w.dirty[k].due, "a trigger does not cut a backoff short")
	w.mu.Unlock()
}

func TestLLMSummariesAndFallbackInTheWorker(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	ingest(t, st, "acme", "good", genConversation(9, 160))
	ingest(t, st, "acme", "bad", genConversation(9, 160))
	tok := testTokenizer()

	reg := prometheus.NewRegistry()
	good := &cannedCompleter{reply: `{"summary": "Ines and Tomas talked about their week on 8 May 2023."}`}
	w := newWorker(t, st, Config{}, Deps{Registerer: reg, Summarizer: NewLLM(good, "test-model", tok, nil)})
	res, err := w.CompactNow(ctx, "acme", "good")
	require.NoError(t, err)
	require.NotEmpty(t, res.Written)
	for _, s := range res.Written {
		require.Equal(t, "llm:test-model", s.Producer)
	}
	require.Zero(t, gathered(t, reg, "longmem_compaction_summarizer_failures_total"))
	v, ok := sampleOf(t, reg, "longmem_compaction_summaries_written_total", "level=0", "producer=llm:test-model")
	require.True(t, ok)
	require.Equal(t, float64(coveredLevel(res.Written, 0)), v)

	reg = prometheus.NewRegistry()
	bad := &cannedCompleter{reply: "I'd rather not answer in JSON."}
	w = newWorker(t, st, Config{}, Deps{Registerer: reg, Summarizer: NewLLM(bad, "test-model", tok, nil)})
	res, err = w.CompactNow(ctx, "acme", "bad")
	require.NoError(t, err)
	require.NotEmpty(t, res.Written)
	for _, s := range res.Written {
		require.Equal(t, ProducerExtractive, s.Producer)
	}
	require.Equal(t, float64(len(res.Written)), gathered(t, reg, "longmem_compaction_summarizer_failures_total"))
	v, ok = sampleOf(t, reg, "longmem_compaction_summarizer_failures_total", "reason="+ReasonMalformed)
	require.True(t, ok)
	require.Equal(t, float64(len(res.Written)), v, "every failure is counted as malformed")
	v, ok = sampleOf(t, reg, "longmem_compaction_summaries_written_total", "level=0", "producer="+ProducerExtractive)
	require.True(t, ok)
	require.Equal(t, float64(coveredLevel(res.Written, 0)), v)
	_, ok = sampleOf(t, reg, "longmem_compaction_summaries_written_total", "level=0", "producer=llm:test-model")
	require.False(t, ok, "nothing was written by the model")
	require.Equal(t, float64(len(res.Written)), gathered(t, reg, "longmem_compaction_summarize_duration_seconds"))
	bad.mu.Lock()
	require.Contains(t, bad.sent[0][1].Content, "[8 May 2023, ")
	bad.mu.Unlock()
}

// BenchmarkCompact600 measures compacting a freshly ingested 600-turn
// conversation with the extractive summarizer (the target: every
// turn older than the last 100 covered within 30 s).
func BenchmarkCompact600(b *testing.B) {
	ctx := context.Background()
	st, err := embedded.Open(embedded.Config{Dir: b.TempDir()})
	require.NoError(b, err)
	defer st.Close()
	w := newWorker(b, st, Config{}, Deps{})
	gen := genConversation(1, 600)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		id := fmt.Sprintf("c%d", i)
		ingest(b, st, "acme", id, append([]memory.Turn(nil), gen...))
		b.StartTimer()
		res, err := w.CompactNow(ctx, "acme", id)
		if err != nil || res.Lag != 0 {
			b.Fatal(err, res.Lag)
		}
	}
}

// forgettingSummarizer forgets one turn the first time it summarises a
// chunk holding it, after the worker has read the chunk: the race between
// a forget and a summary being written.
type forgettingSummarizer struct {
	st     memory.Store
	tenant string
	conv   string
	seq    int64
	done   bool
}

func (f *forgettingSummarizer) Summarize(ctx context.Context, in Input) (Output, error) {
	if !f.done && in.Level == 0 {
		f.done = true
		if err := f.st.DeleteTurn(ctx, f.tenant, f.conv, f.seq); err != nil {
			return Output{}, err
		}
	}
	// Name the first word of each item: the summary then surely carries
	// the forgotten turn's words if it was made from it.
	var words []string
	for _, it := range in.Items {
		if w := strings.Fields(it.Content); len(w) > 0 {
			words = append(words, w[0])
		}
	}
	return Output{Content: strings.Join(words, " "), Producer: "firstwords"}, nil
}

func TestTurnForgottenWhileSummarisingIsLeftOut(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	gen := genConversation(11, 40)
	gen[2].Content = "xylophone-quartz is the secret word and nobody may know it."
	turns := ingest(t, st, "acme", "c", gen)
	fs := &forgettingSummarizer{st: st, tenant: "acme", conv: "c", seq: turns[2].Seq}
	w := newWorker(t, st, Config{KeepRecentTurns: 10, SummaryTokens: 400}, Deps{Summarizer: fs})
	_, err := w.CompactNow(ctx, "acme", "c")
	require.NoError(t, err)
	require.True(t, fs.done)
	sums, err := st.Summaries(ctx, "acme", "c")
	require.NoError(t, err)
	require.NotEmpty(t, sums)
	for _, s := range sums {
		require.False(t, s.Stale)
		require.NotContains(t, s.Content, "xylophone", "the forgotten turn's words are in summary %d-%d", s.FromSeq, s.ToSeq)
	}
	require.Equal(t, int64(1), sums[0].FromSeq, "coverage still starts at seq 1")
}

// blockingSummarizer holds every Summarize call until it is released (or
// its context ends) and records how many ran at once.
type blockingSummarizer struct {
	entered chan struct{} // one send per call, as it starts
	release chan struct{} // one receive lets one call finish; close lets all

	mu      sync.Mutex
	running int
	most    int
}

func newBlockingSummarizer() *blockingSummarizer {
	return &blockingSummarizer{entered: make(chan struct{}, 1000), release: make(chan struct{})}
}

func (b *blockingSummarizer) Summarize(ctx context.Context, in Input) (Output, error) {
	b.mu.Lock()
	b.running++
	b.most = max(b.most, b.running)
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		b.running--
		b.mu.Unlock()
	}()
	select {
	case b.entered <- struct{}{}:
	case <-ctx.Done():
		return Output{}, ctx.Err()
	}
	select {
	case <-b.release:
	case <-ctx.Done():
		return Output{}, ctx.Err()
	}
	return Output{Content: "Summary.", Producer: "blocking"}, nil
}

func (b *blockingSummarizer) peak() (running, most int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.running, b.most
}

// pushCounter is a MemQueue that reports each push.
type pushCounter struct {
	*MemQueue
	pushed chan Task
}

func (q pushCounter) Push(ctx context.Context, t Task) error {
	err := q.MemQueue.Push(ctx, t)
	q.pushed <- t
	return err
}

// TestRunBoundsConcurrency triggers more conversations than the worker's
// Concurrency with a summarizer that blocks: exactly Concurrency runs are
// summarising at once while the other conversations wait in the queue,
// and releasing the calls one at a time never lets more run together.
func TestRunBoundsConcurrency(t *testing.T) {
	const n, convs = 3, 8
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st := openStore(t)
	for i := range convs {
		ingest(t, st, "acme", fmt.Sprintf("c%d", i), genConversation(uint64(20+i), 30))
	}
	sum := newBlockingSummarizer()
	q := pushCounter{MemQueue: NewMemQueue(), pushed: make(chan Task, 100)}
	done := make(chan error, convs)
	w := newWorker(t, st, Config{Concurrency: n, KeepRecentTurns: 10, SummaryTokens: 400},
		Deps{Summarizer: sum, Queue: q, AfterRun: func(_ Task, _ Result, err error) { done <- err }})
	for i := range convs {
		w.Trigger("acme", fmt.Sprintf("c%d", i))
	}
	stopped := make(chan error)
	go func() { stopped <- w.Run(ctx) }()

	for range convs {
		<-q.pushed // every conversation is queued at once
	}
	for range n {
		<-sum.entered // and n of them reach the summarizer
	}
	running, most := sum.peak()
	require.Equal(t, n, running, "Concurrency runs summarise at once")
	require.Equal(t, n, most)
	require.Equal(t, convs-n, q.Len(), "the other conversations wait in the queue while %d runs are blocked", n)

	// Release one call at a time until every conversation is done.
	finished := 0
	for finished < convs {
		select {
		case sum.release <- struct{}{}:
		case err := <-done:
			require.NoError(t, err)
			finished++
		}
		_, most = sum.peak()
		require.LessOrEqual(t, most, n, "never more than Concurrency runs at once")
	}
	_, most = sum.peak()
	require.Equal(t, n, most)
	require.Zero(t, q.Len())
	cancel()
	require.NoError(t, <-stopped)
	for i := range convs {
		sums, err := st.Summaries(context.Background(), "acme", fmt.Sprintf("c%d", i))
		require.NoError(t, err)
		require.NotEmpty(t, sums, "conversation c%d was compacted", i)
		for _, s := range sums {
			require.Equal(t, "blocking", s.Producer)
		}
	}
}
