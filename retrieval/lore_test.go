package retrieval_test

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/memory"
	"github.com/longmem/longmem/retrieval"
)

// keyLore is a lorebook for tests: constant items always, the others when
// their Name occurs in a scanned text (the reason names the text's index).
type keyLore struct {
	items  []retrieval.LoreItem
	budget int
	scans  [][]string
}

func (l *keyLore) Triggered(scan []string) []retrieval.LoreItem {
	l.scans = append(l.scans, scan)
	var out []retrieval.LoreItem
	for _, it := range l.items {
		if it.Constant {
			it.Reasons = []string{"constant"}
			out = append(out, it)
			continue
		}
		for i, s := range scan {
			if strings.Contains(s, it.Name) {
				it.Reasons = []string{"key " + it.Name + " in " + string(rune('0'+i))}
				out = append(out, it)
				break
			}
		}
	}
	return out
}

func (l *keyLore) LoreTokenBudget() int { return l.budget }

func TestAssembleLoreLayoutAndStablePrefix(t *testing.T) {
	r := newRig(t, retrieval.AssemblerConfig{SummaryCoverShare: 1, Layout: retrieval.LayoutChronological}, nil)
	turns := filler(rand.New(rand.NewPCG(21, 22)), 120)
	turns[119] = "We should visit the lighthouse tomorrow."
	r.fill(t, "c", turns)
	ss, ok := any(r.store).(memory.SummaryStore)
	require.True(t, ok)
	_, err := ss.AddSummary(context.Background(), "", "c", memory.Summary{Level: 0, FromSeq: 1, ToSeq: 30, Content: "They talked about the park.", Tokens: 7,
		FromTime: day0, ToTime: day0.Add(29 * 3600e9)})
	require.NoError(t, err)

	lore := &keyLore{items: []retrieval.LoreItem{
		{ID: 1, Name: "always", Content: "The kingdom is called Eldra.", Constant: true, Order: 5},
		{ID: 2, Name: "castle", Content: "The castle has three towers.", Order: 1},
		{ID: 3, Name: "lighthouse", Content: "  The lighthouse keeper is Old Tom.\n", Order: 2},
		{ID: 4, Name: "dragon", Content: "Dragons sleep in winter.", Order: 0},
		{ID: 5, Name: "castle", Content: "   ", Order: 0}, // empty content: never inserted
		{ID: 6, Name: "rules", Content: "Magic costs blood.", Constant: true, Order: 1},
	}}
	persona := "You are Mel, a warm and witty painter."
	req := retrieval.Request{ConversationID: "c", Persona: persona, Lore: lore, LoreScanDepth: 2, PostHistory: "Stay in character.",
		Message: retrieval.Message{Content: "Tell me about the castle by the lake"}, BudgetTokens: 1500}
	out, err := r.asm.Assemble(context.Background(), req)
	require.NoError(t, err)
	sys := out.Messages[0].Content
	constants := persona + "\n\nWorld info:\nMagic costs blood.\nThe kingdom is called Eldra.\n\n"
	require.True(t, strings.HasPrefix(sys, constants), "constant entries right after the persona, in insertion order:\n%s", sys)
	iSum := strings.Index(sys, "Long-term memory")
	iRecalled := strings.Index(sys, "Earlier in this conversation")
	iLore := strings.Index(sys, "World info relevant now:\nThe castle has three towers.\nThe lighthouse keeper is Old Tom.")
	require.Positive(t, iSum)
	require.Greater(t, iRecalled, iSum)
	require.Greater(t, iLore, iRecalled, "triggered entries (after_char, the default) after the recalled turns")
	require.True(t, strings.HasSuffix(sys, "The lighthouse keeper is Old Tom."), "at the end of the system message")
	require.NotContains(t, sys, "Dragons")
	require.Equal(t, []string{"Tell me about the castle by the lake", turns[119], turns[118]}, lore.scans[0], "the message and the last 2 turns, newest first")

	n := len(out.Messages)
	require.Equal(t, retrieval.Message{Role: "system", Content: "Stay in character."}, out.Messages[n-2], "post-history instructions right before the message")
	require.Equal(t, "Tell me about the castle by the lake", out.Messages[n-1].Content)

	var names []string
	for _, s := range out.Report.Sections {
		names = append(names, s.Name)
	}
	require.Equal(t, []string{retrieval.SectionPersona, retrieval.SectionLoreConstant, retrieval.SectionSummary, retrieval.SectionRecalled,
		retrieval.SectionLore, retrieval.SectionRecent, retrieval.SectionPostHistory, retrieval.SectionMessage}, names)
	require.Len(t, out.Report.Lore, 4)
	require.Equal(t, []int{6, 1, 2, 3}, []int{out.Report.Lore[0].ID, out.Report.Lore[1].ID, out.Report.Lore[2].ID, out.Report.Lore[3].ID}, "constant entries first, each in prompt order")
	require.True(t, out.Report.Lore[0].Constant)
	require.Equal(t, []string{"key lighthouse in 1"}, out.Report.Lore[3].Reasons)
	require.Equal(t, r.tok.Count("The castle has three towers.")+1, out.Report.Lore[2].Tokens)
	require.LessOrEqual(t, exactTokens(r.tok, out.Messages, 4), out.Report.UsedTokens)

	// Another message: the prefix up to the summaries stays byte-identical.
	req.Message.Content = "and the dragon?"
	out2, err := r.asm.Assemble(context.Background(), req)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(out2.Messages[0].Content, constants+"Long-term memory"))
	require.Contains(t, out2.Messages[0].Content, "Dragons sleep in winter.")
	require.NotContains(t, out2.Messages[0].Content, "three towers")

	// Scan depth 0: the message only.
	req.LoreScanDepth = 0
	req.Message.Content = "hello"
	out3, err := r.asm.Assemble(context.Background(), req)
	require.NoError(t, err)
	require.NotContains(t, out3.Messages[0].Content, "Old Tom")
	require.Equal(t, []string{"hello"}, lore.scans[len(lore.scans)-1])
}

func TestAssembleLoreDropsLowestPriorityFirst(t *testing.T) {
	r := newRig(t, retrieval.AssemblerConfig{}, nil)
	r.fill(t, "c", filler(rand.New(rand.NewPCG(23, 24)), 40))
	long := strings.Repeat("lore words here ", 20) // ~60 tokens each
	lore := &keyLore{items: []retrieval.LoreItem{
		{ID: 1, Name: "k", Content: "A " + long, Priority: 5},
		{ID: 2, Name: "k", Content: "B " + long, Priority: 1},
		{ID: 3, Name: "k", Content: "C " + long, Priority: 9},
		{ID: 4, Name: "k", Content: "D " + long, Priority: 1, Constant: true},
	}}
	got := func(loreTokens int) []int {
		// A budget of 10005 leaves 10000 free after the message ("k").
		policy := &retrieval.BudgetPolicy{LoreShare: float64(loreTokens) / 10000}
		if loreTokens == 0 {
			policy = nil
		}
		out, err := r.asm.Assemble(context.Background(), retrieval.Request{ConversationID: "c", Lore: lore, Policy: policy,
			Message: retrieval.Message{Content: "k"}, BudgetTokens: 10005})
		require.NoError(t, err)
		require.LessOrEqual(t, exactTokens(r.tok, out.Messages, 4), out.Report.UsedTokens)
		ids := []int{}
		for _, l := range out.Report.Lore {
			ids = append(ids, l.ID)
		}
		return ids
	}
	c := r.tok.Count("A "+strings.TrimSpace(long)) + 1 // every item costs the same
	h1, h2 := r.tok.Count("World info:"), r.tok.Count("World info relevant now:")
	require.Equal(t, []int{4, 1, 2, 3}, got(0), "all fit")
	three := 4 + h1 + c + 1 + h2 + 2*c
	require.Equal(t, []int{4, 1, 3}, got(three), "priority 1 triggered goes first")
	require.Equal(t, []int{1, 3}, got(three-1), "then the constant at priority 1")
	require.Equal(t, []int{3}, got(4+h2+2*c-1), "then priority 5")
	require.Equal(t, []int{}, got(4+h2+c-1))
	lore.budget = 4 + h2 + c
	require.Equal(t, []int{3}, got(0), "the lorebook's token budget caps the section")

	// What was left out is in report.dropped, lowest priority first, with
	// why it triggered and how much room there was.
	lore.budget = 0
	out, err := r.asm.Assemble(context.Background(), retrieval.Request{ConversationID: "c", Lore: lore,
		Policy: &retrieval.BudgetPolicy{LoreShare: float64(4+h2+2*c-1) / 10000}, Message: retrieval.Message{Content: "k"}, BudgetTokens: 10005})
	require.NoError(t, err)
	var dropped []retrieval.TurnReport
	for _, d := range out.Report.Dropped {
		if d.Section == retrieval.SectionLore {
			dropped = append(dropped, d)
		}
	}
	require.Len(t, dropped, 3)
	for i, want := range []string{"#2 k", "#4 k", "#1 k"} {
		require.Equal(t, want, dropped[i].Entry)
		require.Positive(t, dropped[i].Tokens)
		require.Len(t, dropped[i].Reasons, 2, "why it triggered, then why it is out")
		require.Contains(t, dropped[i].Reasons[1], "no room")
	}
}

func TestAssembleLoreWithinBudget(t *testing.T) {
	for _, layout := range []string{retrieval.LayoutCache, retrieval.LayoutChronological} {
		t.Run(layout, func(t *testing.T) { testAssembleLoreWithinBudget(t, layout) })
	}
}

func testAssembleLoreWithinBudget(t *testing.T, layout string) {
	r := newRig(t, retrieval.AssemblerConfig{SummaryCoverShare: 1, Layout: layout}, nil)
	rng := rand.New(rand.NewPCG(25, 26))
	r.fill(t, "c", filler(rng, 300))
	var items []retrieval.LoreItem
	for i := range 40 {
		items = append(items, retrieval.LoreItem{ID: i, Name: words[rng.IntN(len(words))], Content: strings.Join(filler(rng, 1+rng.IntN(3)), "\n"),
			Constant: rng.IntN(6) == 0, Before: rng.IntN(2) == 0, Order: rng.IntN(10), Priority: rng.IntN(4)})
	}
	items = append(items, retrieval.LoreItem{ID: 99, Name: "城堡", Content: "城堡在山上，有三座塔。🏰 Ünïcödé!", Order: 3})
	lore := &keyLore{items: items}
	assembled := 0
	defer func() {
		require.GreaterOrEqual(t, assembled, 60, "most random budgets fit the persona and the message: a test that only saw refusals checked nothing")
	}()
	for i := 0; i < 80; i++ {
		budget := 60 + rng.IntN(3000)
		req := retrieval.Request{ConversationID: "c", Lore: lore, LoreScanDepth: rng.IntN(6),
			Message: retrieval.Message{Role: "user", Content: strings.Join(filler(rng, 1), " ") + " 城堡?"}, BudgetTokens: budget}
		if i%2 == 0 {
			req.Persona = "You are Mel. " + strings.Join(filler(rng, 1), " ")
		}
		if i%3 == 0 {
			req.PostHistory = "Reply briefly; never break character."
		}
		if i%5 == 0 {
			req.Policy = &retrieval.BudgetPolicy{LoreShare: 0.02 + rng.Float64()*0.5}
		}
		out, err := r.asm.Assemble(context.Background(), req)
		if err != nil {
			require.ErrorIs(t, err, memory.ErrInvalid, "budget %d", budget)
			continue
		}
		assembled++
		exact := exactTokens(r.tok, out.Messages, 4)
		require.LessOrEqual(t, exact, budget, "exact count within budget %d", budget)
		require.LessOrEqual(t, exact, out.Report.UsedTokens, "the report's figure is an upper bound")
		require.LessOrEqual(t, out.Report.UsedTokens, budget)
		sum, loreSections := 0, 0
		perSection := map[string]int{}
		for _, s := range out.Report.Sections {
			sum += s.Tokens
			switch s.Name {
			case retrieval.SectionLore, retrieval.SectionLoreConstant, retrieval.SectionLoreBefore, retrieval.SectionLoreConstantBefore:
				loreSections += s.Items
				perSection[s.Name] = s.Items
			}
		}
		require.Equal(t, out.Report.UsedTokens, sum, "sections add up")
		require.Equal(t, len(out.Report.Lore), loreSections)
		for _, l := range out.Report.Lore {
			perSection[l.Section]--
		}
		for name, n := range perSection {
			require.Zero(t, n, "section %s: its items are the entries reported in it", name)
		}
		if budget > 800 {
			require.NotEmpty(t, out.Report.Lore, "budget %d", budget)
			require.Greater(t, out.Report.UsedTokens, budget*8/10, "a big budget is used, not wasted (budget %d)", budget)
		}
	}
}

// With BeforeSeq (the chat loop stores the message first) the lorebook
// scans the turns before the message, not the stored message again.
func TestAssembleLoreScanBeforeSeq(t *testing.T) {
	r := newRig(t, retrieval.AssemblerConfig{}, nil)
	r.fill(t, "c", []string{"one", "two", "three", "the new message"})
	lore := &keyLore{}
	_, err := r.asm.Assemble(context.Background(), retrieval.Request{ConversationID: "c", Lore: lore, LoreScanDepth: 2, BeforeSeq: 4,
		Message: retrieval.Message{Content: "the new message"}, BudgetTokens: 500})
	require.NoError(t, err)
	require.Equal(t, [][]string{{"the new message", "three", "two"}}, lore.scans)
}

// Lore positions: before_char puts a constant entry before the persona (in
// the first, stable system message) and a triggered one at the start of
// the volatile system message; after_char (the default) puts them after the
// persona and at the very end, after the recalled turns.
func TestAssembleLorePositions(t *testing.T) {
	for _, layout := range []string{retrieval.LayoutCache, retrieval.LayoutChronological} {
		t.Run(layout, func(t *testing.T) {
			r := newRig(t, retrieval.AssemblerConfig{SummaryCoverShare: 1, Layout: layout}, nil)
			turns := filler(rand.New(rand.NewPCG(31, 32)), 120)
			turns[10] = "The castle by the lake was cold that winter."
			r.fill(t, "c", turns)
			ss := any(r.store).(memory.SummaryStore)
			_, err := ss.AddSummary(context.Background(), "", "c", memory.Summary{Level: 0, FromSeq: 1, ToSeq: 30, Content: "They talked about the park.", Tokens: 7,
				FromTime: day0, ToTime: day0.Add(29 * 3600e9)})
			require.NoError(t, err)
			lore := &keyLore{items: []retrieval.LoreItem{
				{ID: 1, Name: "cb", Content: "Before the persona.", Constant: true, Before: true},
				{ID: 2, Name: "ca", Content: "After the persona.", Constant: true},
				{ID: 3, Name: "castle", Content: "Triggered, before the summaries.", Before: true},
				{ID: 4, Name: "castle", Content: "Triggered, at the end."},
			}}
			persona := "You are Mel, a warm and witty painter."
			out, err := r.asm.Assemble(context.Background(), retrieval.Request{ConversationID: "c", Persona: persona, Lore: lore,
				Message: retrieval.Message{Content: "Tell me about the castle by the lake"}, BudgetTokens: 3000})
			require.NoError(t, err)

			stable := "World info:\nBefore the persona.\n\n" + persona + "\n\nWorld info:\nAfter the persona."
			volatile := out.Messages[0].Content
			if layout == retrieval.LayoutCache {
				require.Equal(t, stable, out.Messages[0].Content, "the first system message: lore before, persona, lore after")
				last := out.Messages[len(out.Messages)-2]
				require.Equal(t, "system", last.Role)
				volatile = last.Content
			} else {
				require.True(t, strings.HasPrefix(volatile, stable+"\n\n"))
				volatile = strings.TrimPrefix(volatile, stable+"\n\n")
			}
			require.True(t, strings.HasPrefix(volatile, "World info relevant now:\nTriggered, before the summaries.\n\nLong-term memory"), volatile)
			require.Contains(t, volatile, "Earlier in this conversation")
			require.True(t, strings.HasSuffix(volatile, "\n\nWorld info relevant now:\nTriggered, at the end."), volatile)

			var names []string
			sum := 0
			for _, s := range out.Report.Sections {
				names = append(names, s.Name)
				sum += s.Tokens
			}
			want := []string{retrieval.SectionLoreConstantBefore, retrieval.SectionPersona, retrieval.SectionLoreConstant,
				retrieval.SectionLoreBefore, retrieval.SectionSummary, retrieval.SectionRecalled, retrieval.SectionLore,
				retrieval.SectionRecent, retrieval.SectionMessage}
			if layout == retrieval.LayoutCache {
				want = []string{retrieval.SectionLoreConstantBefore, retrieval.SectionPersona, retrieval.SectionLoreConstant,
					retrieval.SectionRecent, retrieval.SectionLoreBefore, retrieval.SectionSummary, retrieval.SectionRecalled,
					retrieval.SectionLore, retrieval.SectionMessage}
			}
			require.Equal(t, want, names)
			require.Equal(t, out.Report.UsedTokens, sum, "sections add up")
			require.LessOrEqual(t, exactTokens(r.tok, out.Messages, 4), out.Report.UsedTokens, "an upper bound of the exact count")
			var got []string
			for _, l := range out.Report.Lore {
				got = append(got, l.Section)
			}
			require.Equal(t, []string{retrieval.SectionLoreConstantBefore, retrieval.SectionLoreConstant, retrieval.SectionLoreBefore, retrieval.SectionLore}, got)
			require.Equal(t, []int{1, 2, 3, 4}, []int{out.Report.Lore[0].ID, out.Report.Lore[1].ID, out.Report.Lore[2].ID, out.Report.Lore[3].ID})
		})
	}
}
