package retrieval_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/memory"
	"github.com/longmem/longmem/memory/embedded"
	"github.com/longmem/longmem/retrieval"
	"github.com/longmem/longmem/retrieval/embeddedindex"
)

type rig struct {
	store   *embedded.Store
	index   *embeddedindex.Index
	indexer *retrieval.Indexer
	asm     *retrieval.Assembler
	tok     *retrieval.BPETokenizer
}

var sharedTok *retrieval.BPETokenizer

func tokenizer(t testing.TB) *retrieval.BPETokenizer {
	if sharedTok == nil {
		tok, err := retrieval.NewTokenizer(retrieval.TokenizerConfig{})
		require.NoError(t, err)
		sharedTok = tok
	}
	return sharedTok
}

func newRig(t testing.TB, cfg retrieval.AssemblerConfig, emb retrieval.Embedder) *rig {
	t.Helper()
	st, err := embedded.Open(embedded.Config{Dir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	idx, err := embeddedindex.New(embeddedindex.Config{})
	require.NoError(t, err)
	tok := tokenizer(t)
	ix := retrieval.NewIndexer(st, idx, retrieval.NewAnalyzer(retrieval.AnalyzerConfig{}), tokenizer(t), emb)
	return &rig{store: st, index: idx, indexer: ix, asm: retrieval.NewAssembler(cfg, st, ix, tok), tok: tok}
}

var day0 = time.Date(2023, 5, 8, 13, 56, 0, 0, time.UTC)

// fill appends turns to conversation id: contents[i] at day0 + i hours.
func (r *rig) fill(t testing.TB, id string, contents []string) {
	t.Helper()
	ctx := context.Background()
	_, err := r.store.CreateConversation(ctx, memory.Conversation{ID: id})
	require.NoError(t, err)
	for i := 0; i < len(contents); i += 1000 {
		var batch []memory.Turn
		for k, c := range contents[i:min(i+1000, len(contents))] {
			role, name := memory.RoleUser, "Ines"
			if (i+k)%2 == 1 {
				role, name = memory.RoleAssistant, "Tomas"
			}
			batch = append(batch, memory.Turn{Role: role, Name: name, Content: c,
				CreatedAt: day0.Add(time.Duration(i+k) * time.Hour), Tokens: r.tok.Count(c)})
		}
		_, err := r.store.AppendTurns(ctx, "", id, batch, memory.AppendOptions{})
		require.NoError(t, err)
	}
}

var words = strings.Fields(`the a walk park dog cat paint sunrise lake camping kids school music guitar violin
concert book novel read write letter friend family mother sister brother job bank studio dance class pottery
garden flowers rain sun beach surf wave mountain hike trail bike race charity run marathon coffee tea cake bread
city train bus car road trip travel map photo camera picture art museum gallery movie film game team season`)

func filler(rng *rand.Rand, n int) []string {
	out := make([]string, n)
	for i := range out {
		k := 6 + rng.IntN(25)
		ws := make([]string, k)
		for j := range ws {
			ws[j] = words[rng.IntN(len(words))]
		}
		out[i] = strings.Join(ws, " ") + "."
	}
	return out
}

// exactTokens counts messages as the budget contract defines: content
// tokens plus the per-message overhead, plus the name when present.
func exactTokens(tok retrieval.Tokenizer, msgs []retrieval.Message, overhead int) int {
	n := 0
	for _, m := range msgs {
		n += tok.Count(m.Content) + overhead
		if m.Name != "" {
			n += tok.Count(m.Name)
		}
	}
	return n
}

// systemText is every system message of a context, in order.
func systemText(c retrieval.Context) string {
	var parts []string
	for _, m := range c.Messages {
		if m.Role == "system" {
			parts = append(parts, m.Content)
		}
	}
	return strings.Join(parts, "\n\n")
}

func ask(t testing.TB, r *rig, id, q string, budget int) retrieval.Context {
	t.Helper()
	out, err := r.asm.Assemble(context.Background(), retrieval.Request{ConversationID: id,
		Message: retrieval.Message{Role: "user", Content: q}, BudgetTokens: budget})
	require.NoError(t, err)
	return out
}

func TestAssembleNeverExceedsBudget(t *testing.T) {
	r := newRig(t, retrieval.AssemblerConfig{}, nil)
	rng := rand.New(rand.NewPCG(1, 2))
	turns := filler(rng, 400)
	turns[17] = "My sister's name is Zelda and she lives in Lisbon 🇵🇹, next to the old tram line."
	r.fill(t, "c", turns)
	assembled := 0
	defer func() {
		require.GreaterOrEqual(t, assembled, 45, "most random budgets fit the message: a test that only saw refusals checked nothing")
	}()
	for i := 0; i < 60; i++ {
		budget := 40 + rng.IntN(3000)
		q := strings.Join(filler(rng, 1), " ") + " Zelda?"
		out, err := r.asm.Assemble(context.Background(), retrieval.Request{ConversationID: "c",
			Message: retrieval.Message{Role: "user", Content: q}, BudgetTokens: budget})
		if err != nil {
			require.ErrorIs(t, err, memory.ErrInvalid, "budget %d", budget)
			continue
		}
		assembled++
		exact := exactTokens(r.tok, out.Messages, 4)
		require.LessOrEqual(t, exact, budget, "exact count within budget %d", budget)
		require.LessOrEqual(t, out.Report.UsedTokens, budget)
		require.LessOrEqual(t, exact, out.Report.UsedTokens, "the report's figure is an upper bound")
		sum := 0
		for _, s := range out.Report.Sections {
			sum += s.Tokens
		}
		require.Equal(t, out.Report.UsedTokens, sum, "sections add up")
		if budget > 600 {
			require.Greater(t, out.Report.UsedTokens, budget*8/10, "a big budget is used, not wasted (budget %d)", budget)
		}
	}
}

func TestAssembleLayoutAndVerbatim(t *testing.T) {
	r := newRig(t, retrieval.AssemblerConfig{}, nil)
	rng := rand.New(rand.NewPCG(3, 4))
	turns := filler(rng, 300)
	turns[40] = "Guess what: I adopted a greyhound called Biscuit last week!"
	turns[41] = "Biscuit is such a lovely name. How is he settling in?"
	r.fill(t, "c", turns)

	out := ask(t, r, "c", "What is the name of my greyhound?", 1500)
	msgs := out.Messages
	// Cache layout without a persona: the recent window, then one system
	// message with what was recalled, then the new message.
	require.Equal(t, "system", msgs[len(msgs)-2].Role, "recalled material right before the message")
	require.Equal(t, "What is the name of my greyhound?", msgs[len(msgs)-1].Content, "the new message is last")
	sys := msgs[len(msgs)-2].Content
	require.Contains(t, sys, "Ines: "+turns[40], "recalled content verbatim, speaker outside it")
	require.Contains(t, sys, "[Wednesday, 10 May 2023]", "recalled turns carry their date") // turn 41 is day0 + 40 h

	var recalled, recent []retrieval.TurnReport
	for _, tr := range out.Report.Turns {
		switch tr.Section {
		case retrieval.SectionRecalled:
			recalled = append(recalled, tr)
		case retrieval.SectionRecent:
			recent = append(recent, tr)
		}
	}
	require.NotEmpty(t, recalled)
	require.NotEmpty(t, recent)
	last := int64(0)
	pos := -1
	for _, tr := range recalled {
		require.Greater(t, tr.Seq, last, "recalled turns are chronological")
		last = tr.Seq
		p := strings.Index(sys, turns[tr.Seq-1])
		require.GreaterOrEqual(t, p, 0, "seq %d rendered", tr.Seq)
		require.Greater(t, p, pos, "rendered in seq order")
		pos = p
		require.NotEmpty(t, tr.Reasons)
	}
	require.Less(t, last, recent[0].Seq, "recall never repeats the recent window")
	for i, tr := range recent {
		m := msgs[i]
		require.Equal(t, turns[tr.Seq-1], m.Content, "recent turns verbatim, in order")
		require.Equal(t, []string{retrieval.ReasonRecent}, tr.Reasons)
	}
	require.EqualValues(t, 300, recent[len(recent)-1].Seq, "the recent window ends at the last turn")

	var hit *retrieval.TurnReport
	for i := range recalled {
		if recalled[i].Seq == 41 {
			hit = &recalled[i]
		}
	}
	require.NotNil(t, hit, "the buried fact is recalled")
	require.Contains(t, hit.Reasons, retrieval.ReasonLexical)

	names := []string{}
	for _, s := range out.Report.Sections {
		names = append(names, s.Name)
	}
	require.Equal(t, []string{retrieval.SectionRecent, retrieval.SectionRecalled, retrieval.SectionMessage}, names) // in the order of the messages
}

func TestAssembleNeighboursComeWithAHit(t *testing.T) {
	r := newRig(t, retrieval.AssemblerConfig{}, nil)
	turns := filler(rand.New(rand.NewPCG(5, 6)), 200)
	turns[59] = "Where did you go on holiday?"
	turns[60] = "We spent two weeks in Kyoto visiting temples."
	turns[61] = "That sounds wonderful."
	r.fill(t, "c", turns)
	out := ask(t, r, "c", "Tell me about Kyoto", 800)
	reasons := map[int64][]string{}
	for _, tr := range out.Report.Turns {
		reasons[tr.Seq] = tr.Reasons
	}
	require.Contains(t, reasons[61], retrieval.ReasonLexical)
	require.Contains(t, reasons[60], fmt.Sprintf(retrieval.ReasonNeighbour, 61), "the question before the answer")
	require.Contains(t, reasons[62], fmt.Sprintf(retrieval.ReasonNeighbour, 61))
}

func TestAssembleErrors(t *testing.T) {
	r := newRig(t, retrieval.AssemblerConfig{}, nil)
	r.fill(t, "c", []string{"hello there"})
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		req  retrieval.Request
		want error
	}{
		{"zero budget", retrieval.Request{ConversationID: "c", Message: retrieval.Message{Content: "hi"}}, memory.ErrInvalid},
		{"negative budget", retrieval.Request{ConversationID: "c", Message: retrieval.Message{Content: "hi"}, BudgetTokens: -5}, memory.ErrInvalid},
		{"too small", retrieval.Request{ConversationID: "c", Message: retrieval.Message{Content: strings.Repeat("word ", 50)}, BudgetTokens: 20}, memory.ErrInvalid},
		{"empty message", retrieval.Request{ConversationID: "c", BudgetTokens: 100}, memory.ErrInvalid},
		{"bad role", retrieval.Request{ConversationID: "c", Message: retrieval.Message{Role: "robot", Content: "x"}, BudgetTokens: 100}, memory.ErrInvalid},
		{"unknown conversation", retrieval.Request{ConversationID: "nope", Message: retrieval.Message{Content: "x"}, BudgetTokens: 100}, memory.ErrNotFound},
	} {
		_, err := r.asm.Assemble(ctx, tc.req)
		require.ErrorIs(t, err, tc.want, tc.name)
	}
	_, err := r.asm.Assemble(ctx, retrieval.Request{ConversationID: "c", Message: retrieval.Message{Content: strings.Repeat("word ", 50)}, BudgetTokens: 20})
	require.ErrorContains(t, err, "too small for the message")
}

func TestAssembleDeterministicAndFresh(t *testing.T) {
	r := newRig(t, retrieval.AssemblerConfig{}, nil)
	rng := rand.New(rand.NewPCG(7, 8))
	r.fill(t, "c", filler(rng, 300))
	a := ask(t, r, "c", "camping at the lake with the kids", 1000)
	b := ask(t, r, "c", "camping at the lake with the kids", 1000)
	require.Equal(t, a, b, "same input, same context")

	// A turn appended after the index was built is recallable at once.
	_, err := r.store.AppendTurns(context.Background(), "", "c", []memory.Turn{{Role: memory.RoleUser, Content: "I bought a kayak called Nimbus.", Tokens: 9}}, memory.AppendOptions{})
	require.NoError(t, err)
	out, err := r.asm.Assemble(context.Background(), retrieval.Request{ConversationID: "c", ExcludeRecent: true,
		Message: retrieval.Message{Content: "what is the kayak called?"}, BudgetTokens: 300})
	require.NoError(t, err)
	require.Contains(t, systemText(out), "Nimbus")
	require.EqualValues(t, 301, out.Report.IndexedThrough)
	for _, s := range out.Report.Sections {
		if s.Name == retrieval.SectionRecent {
			require.Zero(t, s.Items, "exclude_recent leaves no recent window")
		}
	}

	// Forgotten turns are never recalled again.
	require.NoError(t, r.store.DeleteTurn(context.Background(), "", "c", 301))
	require.NoError(t, r.indexer.Forget(context.Background(), "", "c", 301))
	out, err = r.asm.Assemble(context.Background(), retrieval.Request{ConversationID: "c", ExcludeRecent: true,
		Message: retrieval.Message{Content: "what is the kayak called?"}, BudgetTokens: 300})
	require.NoError(t, err)
	require.NotContains(t, systemText(out), "Nimbus")
}

func TestAssembleRebuildsAfterRestart(t *testing.T) {
	r := newRig(t, retrieval.AssemblerConfig{}, nil)
	turns := filler(rand.New(rand.NewPCG(9, 10)), 120)
	turns[3] = "My passport number ends in 4471."
	r.fill(t, "c", turns)
	// A fresh index (a restart) knows nothing; the first query rebuilds it.
	idx, err := embeddedindex.New(embeddedindex.Config{})
	require.NoError(t, err)
	ix := retrieval.NewIndexer(r.store, idx, retrieval.NewAnalyzer(retrieval.AnalyzerConfig{}), r.tok, nil)
	asm := retrieval.NewAssembler(retrieval.AssemblerConfig{}, r.store, ix, r.tok)
	out, err := asm.Assemble(context.Background(), retrieval.Request{ConversationID: "c",
		Message: retrieval.Message{Content: "passport number?"}, BudgetTokens: 400})
	require.NoError(t, err)
	require.Contains(t, systemText(out), "4471")
}

func TestAssemblePersonaFirstAndStable(t *testing.T) {
	r := newRig(t, retrieval.AssemblerConfig{}, nil)
	r.fill(t, "c", filler(rand.New(rand.NewPCG(11, 12)), 200))
	persona := "You are Mel, a warm and witty painter."
	req := retrieval.Request{ConversationID: "c", Persona: persona, Message: retrieval.Message{Content: "paint the sunrise"}, BudgetTokens: 1200}
	a, err := r.asm.Assemble(context.Background(), req)
	require.NoError(t, err)
	require.Equal(t, persona, a.Messages[0].Content, "the persona alone opens the prompt (cache layout)")
	require.Equal(t, retrieval.SectionPersona, a.Report.Sections[0].Name)
	req.Message.Content = "and the lake?"
	b, err := r.asm.Assemble(context.Background(), req)
	require.NoError(t, err)
	require.Equal(t, a.Messages[0], b.Messages[0], "the prefix stays byte-identical")

	req.Persona = strings.Repeat("persona ", 2000)
	_, err = r.asm.Assemble(context.Background(), req)
	require.ErrorIs(t, err, memory.ErrInvalid, "a persona over its share is a clear error")
}

func TestAssembleEmptyConversationAndOddNames(t *testing.T) {
	r := newRig(t, retrieval.AssemblerConfig{}, nil)
	_, err := r.store.CreateConversation(context.Background(), memory.Conversation{ID: "empty"})
	require.NoError(t, err)
	out := ask(t, r, "empty", "hello?", 100)
	require.Len(t, out.Messages, 1, "only the new message")
	require.Equal(t, "hello?", out.Messages[0].Content)

	_, err = r.store.CreateConversation(context.Background(), memory.Conversation{ID: "names"})
	require.NoError(t, err)
	_, err = r.store.AppendTurns(context.Background(), "", "names", []memory.Turn{
		{Role: memory.RoleUser, Name: "Mary Jane", Content: "hi there", Tokens: 2},
		{Role: memory.RoleAssistant, Name: "李雷", Content: "你好", Tokens: 2},
	}, memory.AppendOptions{})
	require.NoError(t, err)
	out, err = r.asm.Assemble(context.Background(), retrieval.Request{ConversationID: "names",
		Message: retrieval.Message{Name: "Mary Jane", Content: "how are you"}, BudgetTokens: 200})
	require.NoError(t, err)
	for _, m := range out.Messages {
		require.Regexp(t, `^[a-zA-Z0-9_-]{0,64}$`, m.Name, "names are valid for the OpenAI wire format")
	}
	require.Equal(t, "Mary_Jane", out.Messages[len(out.Messages)-1].Name)
	require.LessOrEqual(t, exactTokens(r.tok, out.Messages, 4), out.Report.UsedTokens)
}

// TestAssembleBeforeSeq: the chat loop stores the new message first; the
// context built as of before it holds it once, as the last message, and
// neither recalls nor repeats it.
func TestAssembleBeforeSeq(t *testing.T) {
	r := newRig(t, retrieval.AssemblerConfig{}, nil)
	contents := filler(rand.New(rand.NewPCG(3, 4)), 30)
	contents = append(contents, "zebra quartz question?")
	r.fill(t, "c", contents)
	msg := retrieval.Message{Role: "user", Content: "zebra quartz question?"}
	for _, before := range []int64{31, 0} {
		out, err := r.asm.Assemble(context.Background(), retrieval.Request{ConversationID: "c", Message: msg,
			BudgetTokens: 4000, BeforeSeq: before})
		require.NoError(t, err)
		n := 0
		for _, m := range out.Messages {
			n += strings.Count(m.Content, "zebra quartz")
		}
		if before == 31 {
			require.Equal(t, 1, n, "the stored message appears once")
			for _, tr := range out.Report.Turns {
				require.Less(t, tr.Seq, int64(31))
			}
			last := out.Report.Turns[len(out.Report.Turns)-1]
			require.Equal(t, int64(30), last.Seq, "the recent window ends just before the message")
		} else {
			require.Equal(t, 2, n, "without BeforeSeq the stored copy is in the recent window too")
		}
	}
}

// TestAssembleSummariesByRelevance: the long-term memory holds the
// summaries that share the message's words; when none does, the coarse
// cover of the history within SummaryCoverShare of the room, unless
// SummariesRelevantOnly.
func TestAssembleSummariesByRelevance(t *testing.T) {
	for _, tc := range []struct {
		only  bool
		cover float64
		want  int // summaries in the coarse cover
	}{{false, 1, 4}, {false, 0, 3}, {true, 1, 0}} { // cover 0: the default quarter of the room
		only := tc.only
		r := newRig(t, retrieval.AssemblerConfig{SummariesRelevantOnly: only, SummaryCoverShare: tc.cover}, nil)
		rng := rand.New(rand.NewPCG(5, 6))
		r.fill(t, "c", filler(rng, 200))
		contents := []string{
			"Ines talked about her garden and the rain.",
			"Tomas adopted a greyhound named Biscuit from the shelter.",
			"They planned a hiking trip to the mountains.",
			"Ines started violin lessons with her sister.",
		}
		r.addLevel0Summaries(t, "c", contents)
		out := ask(t, r, "c", "What is the name of the greyhound Tomas adopted?", 2000)
		require.Len(t, out.Report.Summaries, 1, "only the relevant summary")
		require.EqualValues(t, 41, out.Report.Summaries[0].FromSeq)
		require.Equal(t, retrieval.ReasonSummaryRelevant, out.Report.Summaries[0].Reason)
		require.Contains(t, systemText(out), contents[1])

		out = ask(t, r, "c", "Anything new with the quantum zebra?", 2000)
		if only {
			require.Empty(t, out.Report.Summaries, "nothing relevant: no long-term memory")
		} else {
			require.Len(t, out.Report.Summaries, tc.want, "nothing relevant: the coarse cover of the history (cover share %v)", tc.cover)
			require.EqualValues(t, 160, out.Report.Summaries[len(out.Report.Summaries)-1].ToSeq, "the newest first: the oldest are dropped")
			for _, sm := range out.Report.Summaries {
				require.Equal(t, retrieval.ReasonSummaryGist, sm.Reason)
			}
		}
	}
}

// TestAssembleCoarseCoverOrder: when no summary is relevant to the
// message, long-term memory is the coarse cover of the history: a level-1
// summary for the distant past, then level-0 summaries for the nearer
// past, chronologically, each under its date range.
func TestAssembleCoarseCoverOrder(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, retrieval.AssemblerConfig{SummaryCoverShare: 1}, nil)
	r.fill(t, "c", filler(rand.New(rand.NewPCG(9, 10)), 200)) // turn i at day0 + (i-1) h
	at := func(seq int64) time.Time { return day0.Add(time.Duration(seq-1) * time.Hour) }
	long := func(tag string) string { // ~150 tokens, none of the message's words
		return tag + ": " + strings.Repeat("Ines and Tomas spoke of pottery, violins and gardens. ", 14)
	}
	add := func(level int, from, to int64, content string) {
		_, err := r.store.AddSummary(ctx, "", "c", memory.Summary{ConversationID: "c", Level: level, FromSeq: from, ToSeq: to,
			FromTime: at(from), ToTime: at(to), Content: content, Tokens: r.tok.Count(content), Producer: "test"})
		require.NoError(t, err)
	}
	l0 := []string{long("First"), long("Second"), long("Third"), long("Fourth")}
	for i, c := range l0 {
		add(0, int64(i*40+1), int64(i*40+40), c)
	}
	l1 := "Early on, Ines and Tomas met and spoke of pottery."
	add(1, 1, 80, l1)

	// The summaries' share of this budget holds the level-1 summary and
	// two level-0 ones, not all four level-0 summaries.
	out := ask(t, r, "c", "Anything new with the quantum zebra?", 2500)
	var got [][3]int64
	for _, s := range out.Report.Summaries {
		got = append(got, [3]int64{int64(s.Level), s.FromSeq, s.ToSeq})
	}
	require.Equal(t, [][3]int64{{1, 1, 80}, {0, 81, 120}, {0, 121, 160}}, got, "the distant past coarse, the nearer past at level 0, oldest first")

	text := systemText(out)
	parts := []string{
		"Long-term memory",
		"[8 May 2023 – 11 May 2023]\n" + l1,
		"[11 May 2023 – 13 May 2023]\n" + l0[2],
		"[13 May 2023 – 15 May 2023]\n" + l0[3],
	}
	pos := -1
	for _, p := range parts {
		i := strings.Index(text, p)
		require.Greater(t, i, pos, "%q comes after the part before it in:\n%s", p[:min(len(p), 40)], text)
		pos = i
	}
	require.NotContains(t, text, l0[0][:6], "the distant past is not also given at level 0")
	require.NotContains(t, text, l0[1][:7])
}

// TestAssembleDroppedSummaries: relevant summaries that do not fit the
// summaries' share are in report.dropped with the turns they cover.
func TestAssembleDroppedSummaries(t *testing.T) {
	r := newRig(t, retrieval.AssemblerConfig{Budget: retrieval.BudgetPolicy{SummaryShare: 0.05}}, nil)
	r.fill(t, "c", filler(rand.New(rand.NewPCG(7, 8)), 200))
	var contents []string
	for i := range 4 {
		contents = append(contents, fmt.Sprintf("Week %d at the allotment: the beans, the leeks and the greenhouse roof again, with the neighbour's advice on compost.", i+1))
	}
	r.addLevel0Summaries(t, "c", contents)
	out := ask(t, r, "c", "What did the neighbour say about compost for the beans and leeks?", 2000)
	require.NotEmpty(t, out.Report.Summaries)
	var dropped []retrieval.TurnReport
	for _, d := range out.Report.Dropped {
		if d.Section == retrieval.SectionSummary {
			dropped = append(dropped, d)
		}
	}
	require.NotEmpty(t, dropped, "the share holds fewer than the four relevant summaries")
	require.Len(t, dropped, 4-len(out.Report.Summaries), "every relevant summary is in or dropped")
	for _, d := range dropped {
		require.Positive(t, d.FromSeq)
		require.Equal(t, d.FromSeq+39, d.ToSeq)
		require.Positive(t, d.Tokens)
		require.Equal(t, retrieval.ReasonSummaryRelevant, d.Reasons[0])
		require.Contains(t, d.Reasons[1], "no room")
	}
}

// addLevel0Summaries writes contents[i] as the level-0 summary of turns
// 40i+1 .. 40i+40 of conversation id.
func (r *rig) addLevel0Summaries(t *testing.T, id string, contents []string) {
	t.Helper()
	for i, c := range contents {
		from := int64(i*40 + 1)
		_, err := r.store.AddSummary(context.Background(), "", id, memory.Summary{ConversationID: id, Level: 0, FromSeq: from, ToSeq: from + 39,
			FromTime: day0.Add(time.Duration(from-1) * time.Hour), ToTime: day0.Add(time.Duration(from+38) * time.Hour),
			Content: c, Tokens: r.tok.Count(c), Producer: "test"})
		require.NoError(t, err)
	}
}
