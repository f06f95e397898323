package replay

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/compaction"
	"github.com/longmem/longmem/memory"
	"github.com/longmem/longmem/memory/embedded"
	"github.com/longmem/longmem/retrieval"
	"github.com/longmem/longmem/retrieval/embeddedindex"
)

func TestLoadLoCoMo(t *testing.T) {
	convs, err := LoadLoCoMo("testdata/locomo-mini.json")
	require.NoError(t, err)
	require.Len(t, convs, 2)
	c := convs[0]
	require.Equal(t, "mini-1", c.ID)
	require.Len(t, c.Turns, 8)
	require.Equal(t, "D1:4", c.Turns[3].Ref)
	require.Equal(t, "Look what I found at the market. [image: a photo of a blue ceramic teapot]", c.Turns[3].Content)
	require.Equal(t, "user", c.Turns[0].Role, "speaker_a is the user")
	require.Equal(t, "assistant", c.Turns[1].Role)
	require.True(t, c.Turns[4].CreatedAt.Equal(time.Date(2024, 3, 20, 18, 40, 0, 0, time.UTC)))
	require.Equal(t, []string{"D2:3", "D2:4"}, c.Questions[1].Evidence, "ids split on ';'")
	require.Equal(t, []string{"D1:4"}, c.Questions[2].Evidence, "D:1:04 normalised")
	require.Equal(t, []string{"D2:2"}, c.Questions[3].Evidence, "leading zero stripped")
	require.Equal(t, "two bowls", c.Questions[3].Answer, "adversarial answer used when there is no answer")
	require.Equal(t, "5", c.Questions[3].Category)
}

func TestLoadMemDaily(t *testing.T) {
	convs, err := LoadMemDaily("testdata/memdaily-mini.json")
	require.NoError(t, err)
	require.Len(t, convs, 1, "trajectories are concatenated into one conversation")
	c := convs[0]
	require.Len(t, c.Turns, 3)
	require.Equal(t, "1:0", c.Turns[2].Ref)
	require.True(t, c.Turns[1].CreatedAt.Equal(time.Date(2024, 4, 2, 19, 35, 0, 0, time.UTC)))
	require.Len(t, c.Questions, 2)
	require.Equal(t, []string{"0:1"}, c.Questions[0].Evidence)
}

func TestHaystack(t *testing.T) {
	convs, err := LoadLoCoMo("testdata/locomo-mini.json")
	require.NoError(t, err)
	hay := Haystack(convs, 30)
	for i, c := range hay {
		require.GreaterOrEqual(t, len(c.Turns), 30)
		names := map[string]bool{}
		refs := map[string]bool{}
		for k, tr := range c.Turns {
			names[tr.Name] = true
			refs[tr.Ref] = true
			if k > 0 {
				require.False(t, tr.CreatedAt.Before(c.Turns[k-1].CreatedAt), "dates stay monotonic")
			}
		}
		require.Len(t, names, 2, "foreign speakers renamed to the target's")
		for _, q := range c.Questions {
			for _, e := range q.Evidence {
				if e != "D9:9" {
					require.True(t, refs[e], "evidence %s still present in conversation %d", e, i)
				}
			}
		}
	}
	require.Equal(t, "D2:2", hay[1].Turns[len(hay[1].Turns)-1].Ref, "the target's last session stays last")
	foreign := 0
	for _, tr := range hay[0].Turns {
		if strings.HasPrefix(tr.Ref, "hay-") {
			foreign++
			require.NotContains(t, tr.Content, "Cleo", "names in foreign content renamed too")
		}
	}
	require.Greater(t, foreign, 0)
}

// env is an in-process store, index and assembler for a replay.
type env struct {
	store *embedded.Store
	idx   retrieval.Index
	tok   retrieval.Tokenizer
	an    *retrieval.Analyzer
	ix    *retrieval.Indexer
	asm   *retrieval.Assembler
}

func newEnv(t *testing.T) env {
	t.Helper()
	store, err := embedded.Open(embedded.Config{Dir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	idx, err := embeddedindex.New(embeddedindex.Config{})
	require.NoError(t, err)
	tok, err := retrieval.NewTokenizer(retrieval.TokenizerConfig{})
	require.NoError(t, err)
	an := retrieval.NewAnalyzer(retrieval.AnalyzerConfig{})
	ix := retrieval.NewIndexer(store, idx, an, tok, nil)
	return env{store: store, idx: idx, tok: tok, an: an, ix: ix, asm: retrieval.NewAssembler(retrieval.AssemblerConfig{}, store, ix, tok)}
}

func (e env) config(budgets []int) Config {
	return Config{Budgets: budgets, Store: e.store, Indexer: e.ix, Index: e.idx, Tokenizer: e.tok, Analyzer: e.an,
		Longmem: []Longmem{{Name: StrategyLongmem, Assembler: e.asm}}}
}

func TestRun(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	store, idx, tok, an, ix, asm := e.store, e.idx, e.tok, e.an, e.ix, e.asm
	convs, err := LoadLoCoMo("testdata/locomo-mini.json")
	require.NoError(t, err)
	var qs, progress bytes.Buffer
	rep, err := Run(ctx, Config{Budgets: []int{60, 1000}, Store: store, Indexer: ix, Index: idx,
		Longmem:   []Longmem{{Name: StrategyLongmem, Assembler: asm}},
		Tokenizer: tok, Analyzer: an, Questions: &qs, Progress: &progress}, "locomo", convs)
	require.NoError(t, err)
	require.Equal(t, 6, rep.Questions)
	require.Len(t, rep.Budgets, 2)
	big, small := rep.Budgets[1].Strategies, rep.Budgets[0].Strategies
	require.Equal(t, 1.0, big[StrategyLongmem].EvidenceRecall, "everything fits in 1,000 tokens")
	require.Equal(t, 5, big[StrategyLongmem].Questions, "the question whose evidence points nowhere is skipped")
	require.Equal(t, 1.0, big[StrategyLongmem].AnswerInContext, "every gold answer's words are in a context that holds everything")
	require.Less(t, small[StrategyRecency].AnswerInContext, 1.0)
	require.Less(t, small[StrategyRecency].EvidenceRecall, 1.0, "60 tokens cannot hold everything")
	require.Contains(t, progress.String(), "6/6 questions", "progress counts every question")
	lines := strings.Split(strings.TrimSpace(qs.String()), "\n")
	require.Len(t, lines, 10, "one line per answerable question and budget")
	var rec QuestionRecord
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &rec))
	require.Equal(t, "Where is Ava's pottery course?", rec.Question)
	require.Equal(t, 0, rec.Index)
	require.Equal(t, 60, rec.BudgetTokens)
	require.Contains(t, rec.Strategies, StrategyLexical)
	require.Nil(t, rec.Strategies[StrategyLongmem].PrefixRatio, "a conversation's first question has no previous prompt")
	require.NoError(t, json.Unmarshal([]byte(lines[1]), &rec))
	require.Equal(t, 1000, rec.BudgetTokens)
	require.Equal(t, []int64{1, 2, 3, 4, 5, 6, 7, 8}, rec.Strategies[StrategyLongmem].Retrieved, "everything is in at 1,000 tokens")
	require.NoError(t, json.Unmarshal([]byte(lines[3]), &rec))
	require.Equal(t, 1, rec.Index)
	require.NotNil(t, rec.Strategies[StrategyRecency].PrefixRatio)
	require.Greater(t, *rec.Strategies[StrategyRecency].PrefixRatio, 0.5, "recency sends the same turns before each question")
	require.Less(t, *rec.Strategies[StrategyRecency].PrefixRatio, 1.0, "the question differs")
	require.Contains(t, Summary(rep), "longmem")

	// Every conversation is removed after its questions.
	all, err := store.ListConversations(ctx, memory.ListOptions{Tenant: "replay"})
	require.NoError(t, err)
	require.Empty(t, all)
}

func TestRunWithSummaries(t *testing.T) {
	ctx := context.Background()
	store, err := embedded.Open(embedded.Config{Dir: t.TempDir()})
	require.NoError(t, err)
	defer store.Close()
	idx, err := embeddedindex.New(embeddedindex.Config{})
	require.NoError(t, err)
	tok, err := retrieval.NewTokenizer(retrieval.TokenizerConfig{})
	require.NoError(t, err)
	an := retrieval.NewAnalyzer(retrieval.AnalyzerConfig{})
	ix := retrieval.NewIndexer(store, idx, an, tok, nil)
	asm := retrieval.NewAssembler(retrieval.AssemblerConfig{Budget: retrieval.BudgetPolicy{RecentMaxTurns: 1}}, store, ix, tok)
	w, err := compaction.NewWorker(compaction.Config{KeepRecentTurns: 1, MinChunkTokens: 1, ChunkTokens: 40}, compaction.Deps{Store: store, Tokenizer: tok,
		Summarizer: compaction.NewExtractive(tok), Queue: compaction.NewMemQueue()})
	require.NoError(t, err)
	compacted := 0
	convs, err := LoadLoCoMo("testdata/locomo-mini.json")
	require.NoError(t, err)
	var qs bytes.Buffer
	rep, err := Run(ctx, Config{Budgets: []int{400}, Store: store, Indexer: ix, Index: idx, Tokenizer: tok, Analyzer: an, Questions: &qs,
		Longmem: []Longmem{{Name: StrategyLongmem, Assembler: asm, CompareNoSummaries: true}}, Summaries: true,
		Compact: func(ctx context.Context, tenant, id string) error {
			compacted++
			_, err := w.CompactNow(ctx, tenant, id)
			return err
		}}, "locomo", convs)
	require.NoError(t, err)
	require.Equal(t, 2, compacted, "each conversation is compacted after its ingest")
	require.True(t, rep.Summaries)
	require.Equal(t, []string{"longmem", "longmem-nosum", "recency", "lexical"}, rep.Strategies)
	with, without := 0, 0
	for _, line := range strings.Split(strings.TrimSpace(qs.String()), "\n") {
		var rec QuestionRecord
		require.NoError(t, json.Unmarshal([]byte(line), &rec))
		with += rec.Strategies[StrategyLongmem].Summaries
		without += rec.Strategies[StrategyLongmem+NoSumSuffix].Summaries
	}
	require.Positive(t, with, "summaries reach the contexts")
	require.Zero(t, without, "the -nosum strategy asks without them")
}

func TestLoadJSONL(t *testing.T) {
	convs, err := LoadJSONL("testdata/example.jsonl")
	require.NoError(t, err)
	require.Len(t, convs, 1)
	c := convs[0]
	require.Equal(t, "mira-and-tom", c.ID)
	require.Len(t, c.Turns, 6)
	require.Equal(t, "user", c.Turns[0].Role, "the first speaker is the user")
	require.Equal(t, "assistant", c.Turns[1].Role)
	require.Equal(t, "Tom", c.Turns[3].Name)
	require.True(t, c.Turns[3].CreatedAt.Equal(time.Date(2024, 5, 10, 20, 15, 0, 0, time.UTC)))
	require.Equal(t, 0, c.Turns[2].Session)
	require.Equal(t, 1, c.Turns[3].Session, "a week's pause starts a session")
	require.Len(t, c.Questions, 3)
	require.Equal(t, []string{"3", "4"}, c.Questions[1].Evidence)
	require.Equal(t, "time", c.Questions[2].Category)

	dir := t.TempDir()
	cp := func(name, content string) string {
		p := dir + "/" + name
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}
	turn := `{"turn":{"speaker":"A","content":"hello"}}` + "\n"
	for _, tc := range []struct{ name, body, want string }{
		{"bad json", turn + "{nope\n", ":2: invalid character"},
		{"unknown key", `{"turn":{"speaker":"A","content":"x","mood":"ok"}}`, `:1: json: unknown field "mood"`},
		{"two keys", `{"turn":{"content":"x"},"probe":{"question":"q","evidence":[0]}}`, ":1: want exactly one of"},
		{"empty content", `{"turn":{"speaker":"A","content":" "}}`, ":1: turn.content must not be empty"},
		{"bad role", `{"turn":{"content":"x","role":"narrator"}}`, `:1: turn.role "narrator"`},
		{"bad time", `{"turn":{"content":"x","time":"yesterday"}}`, ":1: turn.time \"yesterday\": want RFC 3339"},
		{"time goes back", `{"turn":{"content":"x","time":"2024-05-03T18:00:00Z"}}` + "\n" + `{"turn":{"content":"y","time":"2024-05-02T18:00:00Z"}}`, ":2: turn.time 2024-05-02T18:00:00Z goes back"},
		{"evidence out of range", turn + turn + "\n" + `{"probe":{"question":"q","evidence":[1,2]}}`, ":4: probe.evidence[1]: turn 2 does not exist (turns are numbered 0 to 1)"},
		{"no evidence", turn + `{"probe":{"question":"q","evidence":[]}}`, ":2: probe.evidence must list at least one"},
		{"turn after probe", turn + `{"probe":{"question":"q","evidence":[0]}}` + "\n" + turn, ":3: turn after a probe"},
		{"late conversation", turn + `{"conversation":{"id":"x"}}`, `:2: "conversation" must come before`},
		{"no turn", `{"conversation":{"id":"x"}}`, "no turn"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadJSONL(cp(strings.ReplaceAll(tc.name, " ", "-")+".jsonl", tc.body))
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestDiff(t *testing.T) {
	acc := func(f float64) *float64 { return &f }
	rec := func(idx int, recall, aic float64, verdict string) QuestionRecord {
		return QuestionRecord{Conversation: "c", Index: idx, Question: fmt.Sprintf("q%d", idx), Category: "1", BudgetTokens: 100,
			Strategies: map[string]StrategyResult{"longmem": {Recall: recall, AnswerInContext: aic, Verdict: verdict}, "recency": {Recall: 0}}}
	}
	qa := []QuestionRecord{rec(0, 1, 1, "CORRECT"), rec(1, 0, 0.5, "WRONG"), rec(2, 1, 1, "CORRECT")}
	qb := []QuestionRecord{rec(0, 1, 1, "CORRECT"), rec(1, 1, 1, "CORRECT"), rec(2, 0.5, 1, "WRONG"), rec(3, 1, 1, "")}
	ra := Report{Strategies: []string{"longmem", "recency"}, Budgets: []BudgetReport{{BudgetTokens: 100, Strategies: map[string]StrategyStats{
		"longmem": {Metrics: Metrics{EvidenceRecall: 0.6667, AnswerInContext: 0.8333, Accuracy: acc(0.6667)}}, "recency": {}}}}}
	rb := Report{Strategies: []string{"longmem", "recency", "lexical"}, Budgets: []BudgetReport{{BudgetTokens: 100, Strategies: map[string]StrategyStats{
		"longmem": {Metrics: Metrics{EvidenceRecall: 0.75, AnswerInContext: 1, Accuracy: acc(0.6667)}}, "recency": {}, "lexical": {}}}}}
	out := Diff(ra, qa, rb, qb)
	require.Contains(t, out, "c #1 @100 [cat 1] q1\n    longmem        recall 0.00→1.00, answer_in_context 0.50→1.00, verdict WRONG→CORRECT")
	require.Contains(t, out, "c #2 @100 [cat 1] q2\n    longmem        recall 1.00→0.50, verdict CORRECT→WRONG")
	require.NotContains(t, out, "q0", "unchanged questions are not listed")
	require.NotContains(t, out, "q3", "a question only one run has is not matched")
	require.Contains(t, out, "2 of 3 matching question×budget records changed (longmem: 1 better, 1 worse)")
	require.Contains(t, out, "100     longmem             +0.083    +0.167        +0    +0.000")
	require.NotContains(t, out, "lexical", "only strategies both runs have")
}

// A Longmem entry with its own Compact reads its own copy of each
// conversation, compacted its own way; entries with the same CopyKey share
// it; every copy is removed afterwards.
func TestRunCopiesPerCompaction(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	w, err := compaction.NewWorker(compaction.Config{KeepRecentTurns: 1, MinChunkTokens: 1, ChunkTokens: 40}, compaction.Deps{Store: e.store, Tokenizer: e.tok,
		Summarizer: compaction.NewExtractive(e.tok), Queue: compaction.NewMemQueue()})
	require.NoError(t, err)
	var shared, own []string
	folding := func(ctx context.Context, tenant, id string) error {
		own = append(own, id)
		_, err := w.CompactNow(ctx, tenant, id)
		return err
	}
	asm := retrieval.NewAssembler(retrieval.AssemblerConfig{Budget: retrieval.BudgetPolicy{RecentMaxTurns: 1}}, e.store, e.ix, e.tok)
	cfg := e.config([]int{400})
	cfg.Summaries = true
	cfg.Compact = func(_ context.Context, _, id string) error { shared = append(shared, id); return nil }
	cfg.Longmem = []Longmem{{Name: "longmem@a", Assembler: asm},
		{Name: "longmem@b", Assembler: asm, Compact: folding, CopyKey: "fold"},
		{Name: "longmem@c", Assembler: asm, Compact: folding, CopyKey: "fold"}}
	var qs bytes.Buffer
	cfg.Questions = &qs
	convs, err := LoadLoCoMo("testdata/locomo-mini.json")
	require.NoError(t, err)
	_, err = Run(ctx, cfg, "locomo", convs)
	require.NoError(t, err)
	require.Len(t, shared, 2, "the shared conversation, once per conversation")
	require.Len(t, own, 2, "b and c share one copy per conversation")
	for i := range shared {
		require.Equal(t, shared[i]+"-c1", own[i])
	}
	sums := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(qs.String()), "\n") {
		var rec QuestionRecord
		require.NoError(t, json.Unmarshal([]byte(line), &rec))
		for st, res := range rec.Strategies {
			sums[st] += res.Summaries
		}
		require.Equal(t, rec.Strategies["longmem@b"].Retrieved, rec.Strategies["longmem@c"].Retrieved)
	}
	require.Zero(t, sums["longmem@a"], "the shared conversation was not compacted")
	require.Positive(t, sums["longmem@b"], "the copy was")
	all, err := e.store.ListConversations(ctx, memory.ListOptions{Tenant: "replay"})
	require.NoError(t, err)
	require.Empty(t, all, "copies removed too")

	cfg.Remote = &Client{}
	_, err = Run(ctx, cfg, "locomo", convs)
	require.ErrorContains(t, err, "longmem@b has its own compaction, but the contexts come from a server")
}

func TestLoadMemDailyDirectory(t *testing.T) {
	dir := t.TempDir()
	raw, err := os.ReadFile("testdata/memdaily-mini.json")
	require.NoError(t, err)
	for _, name := range []string{"b_second.json", "a_first.json"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), raw, 0o644))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a dataset"), 0o644))
	convs, err := LoadMemDaily(dir)
	require.NoError(t, err)
	require.Len(t, convs, 2, "one conversation per file")
	require.Equal(t, "memdaily-a_first", convs[0].ID, "in name order")
	require.Equal(t, "memdaily-b_second", convs[1].ID)
	require.Equal(t, "a_first", convs[0].Questions[0].Category)
	// Two conversations: the haystack can bury each among the other.
	hay := Haystack(convs, 5)
	require.GreaterOrEqual(t, len(hay[0].Turns), 5)

	_, err = LoadMemDaily(t.TempDir())
	require.ErrorContains(t, err, "no *.json file")
}
