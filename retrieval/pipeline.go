package retrieval

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/longmem/longmem/memory"
)

// The assembly pipeline. Assemble runs one request through these stages,
// in this order, each reading and extending the assembly state:
//
//	budget → persona → recent window → lore → summaries → recall → render → report
//
// Each stage is a method with its own tests; none reads the store more than
// once.

// assembly is one request's state as it flows through the stages.
type assembly struct {
	req    Request
	policy BudgetPolicy
	conv   memory.Conversation

	overhead int // per-message overhead (tokens)
	msgCost  int // the new message, overhead and name included
	free     int // tokens left for everything but the message, persona and post-history

	sys         systemMessage // sections of the leading system message
	post        string        // post-history instructions (trimmed)
	postCost    int
	personaCost int // the system message as it stands after the persona stage
	split       int // reserved for the cache layout's second system message

	lastSeq  int64         // the newest seq the context may show (before BeforeSeq)
	last     []memory.Turn // the newest turns: recent window and lore scan
	recent   []memory.Turn // the recent window the policy allows
	recentIn []memory.Turn // the part of it that fits
	lore     []loreItem

	summaries []memory.Summary
	alloc     Allocation
	maxSeq    int64 // recall reads turns up to here (before the recent window)

	recalled []Doc
	rep      Report
}

// Assemble builds the context for req.
func (a *Assembler) Assemble(ctx context.Context, req Request) (Context, error) {
	s, err := a.budget(ctx, req)
	if err != nil {
		return Context{}, err
	}
	stages := []func(context.Context, *assembly) error{
		a.persona, a.recentWindow, a.loreStage, a.summaryStage, a.recallStage,
	}
	for _, stage := range stages {
		if err := stage(ctx, s); err != nil {
			return Context{}, err
		}
	}
	msgs := a.render(s)
	if err := a.report(s); err != nil {
		return Context{}, err
	}
	return Context{Messages: msgs, Report: s.rep}, nil
}

// budget validates the request, reads the conversation and charges the new
// message: what is left is the state's free tokens.
func (a *Assembler) budget(ctx context.Context, req Request) (*assembly, error) {
	policy := a.cfg.Budget
	if req.Policy != nil {
		policy = req.Policy.withDefaults()
	}
	if req.BudgetTokens <= 0 {
		return nil, memory.Invalid("budget_tokens", "must be a positive number of tokens, got %d", req.BudgetTokens)
	}
	if req.Message.Content == "" {
		return nil, memory.Invalid("message.content", "must not be empty")
	}
	if req.Message.Role == "" {
		req.Message.Role = string(memory.RoleUser)
	}
	if !memory.Role(req.Message.Role).Valid() {
		return nil, memory.Invalid("message.role", "unknown role %q (want user, assistant, system or tool)", req.Message.Role)
	}
	conv, err := a.store.GetConversation(ctx, req.Tenant, req.ConversationID)
	if err != nil {
		return nil, err
	}
	s := &assembly{req: req, policy: policy, conv: conv, overhead: policy.MessageOverhead}
	s.msgCost = a.tok.Count(req.Message.Content) + s.overhead
	if n := MessageName(req.Message.Name); n != "" {
		s.msgCost += a.count(n)
	}
	if s.msgCost > req.BudgetTokens {
		return nil, memory.Invalid("budget_tokens", "%d tokens is too small for the message itself, which needs %d", req.BudgetTokens, s.msgCost)
	}
	s.rep = Report{BudgetTokens: req.BudgetTokens}
	s.free = req.BudgetTokens - s.msgCost
	return s, nil
}

// persona opens the system message with the persona. It shares that
// message with summaries and recalled turns, whose overhead it pays when
// present. The post-history instructions, a system message of their own
// before the new message, count with the persona against its share.
func (a *Assembler) persona(_ context.Context, s *assembly) error {
	persona := strings.TrimSpace(s.req.Persona)
	s.post = strings.TrimSpace(s.req.PostHistory)
	if s.post != "" {
		s.postCost = a.countText(s.post) + s.overhead
	}
	if persona != "" || s.post != "" {
		cost := 0
		if persona != "" {
			cost = a.tok.Count(persona) + s.overhead
		}
		limit := int(float64(s.free) * s.policy.PersonaShare)
		if cost+s.postCost > limit {
			return memory.Invalid("budget_tokens", "the persona needs %d tokens, more than its share (%d of %d)", cost+s.postCost, limit, s.req.BudgetTokens)
		}
		if persona != "" {
			s.sys.add(SectionPersona, persona, cost-s.overhead, 1)
		}
	}
	s.personaCost = s.sys.cost(s.overhead)
	s.free -= s.personaCost + s.postCost
	// The cache layout opens a second system message after the recent
	// window when a persona opens the first: one more overhead, one join
	// fewer. Reserved now so that every share below is computed as if
	// there were one message.
	if a.cfg.Layout == LayoutCache && !s.sys.empty() {
		s.split = s.overhead - sectionJoinCost
		s.free -= s.split
	}
	return nil
}

// recentWindow reads the last turns before BeforeSeq: the recent window (as
// many as the policy allows) and what the lorebook scans.
func (a *Assembler) recentWindow(ctx context.Context, s *assembly) error {
	req, conv := s.req, s.conv
	s.lastSeq = conv.LastSeq
	if req.BeforeSeq > 0 {
		s.lastSeq = min(s.lastSeq, req.BeforeSeq-1)
	}
	want := 0
	if !req.ExcludeRecent {
		want = s.policy.RecentMaxTurns
	}
	if req.Lore != nil {
		want = max(want, req.LoreScanDepth)
	}
	if want > 0 && s.lastSeq > 0 {
		// Turns after lastSeq (at most conv.LastSeq-lastSeq of them) come
		// too and are cut off.
		later := int(min(conv.LastSeq-s.lastSeq, maxLaterTurns))
		last, err := a.store.LastTurns(ctx, req.Tenant, req.ConversationID, want+later)
		if err != nil {
			return err
		}
		for len(last) > 0 && last[len(last)-1].Seq > s.lastSeq {
			last = last[:len(last)-1]
		}
		if len(last) > want {
			last = last[len(last)-want:]
		}
		s.last = last
	}
	if !req.ExcludeRecent {
		s.recent = s.last[max(0, len(s.last)-s.policy.RecentMaxTurns):]
	}
	return nil
}

// loreStage collects the lore demand: every triggered entry, constant ones
// included.
func (a *Assembler) loreStage(_ context.Context, s *assembly) error {
	if s.req.Lore == nil {
		return nil
	}
	texts := make([]string, len(s.last))
	for i, t := range s.last {
		texts[i] = t.Content
	}
	s.lore = a.loreItems(s.req.Lore.Triggered(loreScan(s.req.Message.Content, texts, s.req.LoreScanDepth)))
	return nil
}

// summaryStage reads the summaries, splits the budget between the flexible
// sections (recent window, summaries, lore, recall), places the lore and
// the recent window that fit, then chooses the summaries of the history
// before the window.
func (a *Assembler) summaryStage(ctx context.Context, s *assembly) error {
	req, overhead := s.req, s.overhead
	loreDemand := a.loreCost(s.lore, !s.sys.empty(), overhead)
	if lb, ok := req.Lore.(LoreBudgeter); ok && lb.LoreTokenBudget() > 0 {
		loreDemand = min(loreDemand, lb.LoreTokenBudget())
	}
	recentDemand := 0
	for _, t := range s.recent {
		recentDemand += a.turnMessageCost(t, overhead)
	}
	if ss, ok := a.store.(memory.SummaryStore); ok && !req.NoSummaries && !a.cfg.NoSummaries {
		var err error
		if s.summaries, err = ss.Summaries(ctx, req.Tenant, req.ConversationID); err != nil {
			return err
		}
	}
	summaryDemand := 0
	for _, sm := range s.summaries {
		if sm.Level == 0 && !sm.Stale {
			summaryDemand += a.summaryCost(sm)
		}
	}
	if summaryDemand > 0 {
		summaryDemand += a.count(summariesHeading) + sectionJoinCost
		if s.sys.empty() {
			summaryDemand += overhead
		}
	}
	s.alloc = s.policy.AllocateWithLore(s.free, recentDemand, summaryDemand, loreDemand)
	var noRoom []loreItem
	s.lore, noRoom = a.fitLore(s.lore, s.alloc.Lore, !s.sys.empty(), overhead)
	for _, it := range noRoom {
		s.rep.Dropped = append(s.rep.Dropped, TurnReport{Section: SectionLore, Entry: loreEntryName(it.LoreItem), Tokens: it.cost,
			Reasons: append(slices.Clone(it.Reasons), fmt.Sprintf(ReasonNoRoom, it.cost, "lore", s.alloc.Lore))})
	}
	for _, k := range []loreKind{loreConstantBefore, loreConstantAfter} {
		if text, cost, n := a.renderLore(s.lore, k); n > 0 {
			s.sys.add(k.section(), text, cost, n)
		}
	}
	s.recentIn = a.fitRecent(s.recent, s.alloc.Recent, overhead)
	// Recall and summaries cover everything older than the recent window.
	s.maxSeq = s.lastSeq
	if len(s.recentIn) > 0 {
		s.maxSeq = s.recentIn[0].Seq - 1
	}
	a.chooseSummaries(s)
	for _, k := range []loreKind{loreTriggeredBefore, loreTriggeredAfter} {
		if text, cost, n := a.renderLore(s.lore, k); n > 0 {
			s.sys.add(k.section(), text, cost, n)
		}
	}
	s.rep.Lore = loreReports(s.lore)
	return nil
}

// chooseSummaries puts the long-term memory in: the summaries relevant to
// the message, else the gist of the history.
func (a *Assembler) chooseSummaries(s *assembly) {
	if s.alloc.Summary <= 0 {
		return
	}
	room := s.alloc.Summary - a.count(summariesHeading) - sectionJoinCost
	if s.sys.empty() {
		room -= s.overhead - sectionJoinCost
	}
	chosen, noRoom := selectRelevantSummaries(s.summaries, s.maxSeq, room, a.summaryCost, a.summaryScorer(s.req.Message.Content, s.summaries))
	for _, sm := range noRoom {
		c := a.summaryCost(sm)
		s.rep.Dropped = append(s.rep.Dropped, TurnReport{Section: SectionSummary, FromSeq: sm.FromSeq, ToSeq: sm.ToSeq, Tokens: c,
			Reasons: []string{ReasonSummaryRelevant, fmt.Sprintf(ReasonNoRoom, c, "summaries", room)}})
	}
	reason := ReasonSummaryRelevant
	if len(chosen) == 0 && !a.cfg.SummariesRelevantOnly {
		// The gist may take a part of the summaries' share of the budget
		// (not of their allocation, which is capped at what all summaries
		// need: one summary would never fit a part of itself).
		gist := min(room, int(float64(s.free)*s.policy.SummaryShare*a.cfg.SummaryCoverShare))
		chosen = SelectSummaries(s.summaries, s.maxSeq, gist, a.summaryCost)
		reason = ReasonSummaryGist
	}
	if len(chosen) == 0 {
		return
	}
	text, cost := a.renderSummaries(chosen)
	s.sys.add(SectionSummary, text, cost, len(chosen))
	for _, sm := range chosen {
		s.rep.Summaries = append(s.rep.Summaries, SummaryReport{Level: sm.Level, FromSeq: sm.FromSeq, ToSeq: sm.ToSeq, Tokens: a.summaryCost(sm), Reason: reason})
	}
}

// recentCost is the accounted cost of the recent window that fits.
func (a *Assembler) recentCost(s *assembly) int {
	c := 0
	for _, t := range s.recentIn {
		c += a.turnMessageCost(t, s.overhead)
	}
	return c
}

// recallStage fills what the other sections left with recalled turns, then
// lets what recall left unused extend the recent window back.
func (a *Assembler) recallStage(ctx context.Context, s *assembly) error {
	overhead := s.overhead
	recallBudget := s.free - a.recentCost(s) - (s.sys.cost(overhead) - s.personaCost)
	if s.sys.empty() {
		recallBudget -= overhead // the system message recall would open
	} else {
		recallBudget -= sectionJoinCost
	}
	recallBudget -= a.count(recalledHeading)
	// The index catches up first; when it (or the embedder indexing with
	// it) fails, recall uses what the index already holds.
	wm, err := a.indexer.SyncConversation(ctx, s.req.Tenant, s.conv)
	if err != nil && !a.degrade(ctx, &s.rep, err) {
		return err
	}
	s.rep.IndexedThrough = wm
	if s.maxSeq > 0 && recallBudget > 0 {
		recalled, turns, dropped, err := a.recall(ctx, s.req, &s.rep, s.maxSeq, s.lastSeq, wm, recallBudget, s.recentIn)
		switch {
		case err == nil:
			s.recalled, s.rep.Turns = recalled, turns
			s.rep.Dropped = append(s.rep.Dropped, dropped...)
		case !a.degrade(ctx, &s.rep, err):
			return err
		}
	}
	if len(s.recalled) > 0 {
		text, cost := a.renderRecalled(s.recalled)
		s.sys.add(SectionRecalled, text, cost, len(s.recalled))
	}
	a.spillOver(s)
	return nil
}

// spillOver extends the recent window back with what recall left unused,
// up to the newest recalled turn.
func (a *Assembler) spillOver(s *assembly) {
	recentCost := a.recentCost(s)
	left := s.free - (s.sys.cost(s.overhead) - s.personaCost) - recentCost
	if left <= 0 || len(s.recentIn) >= len(s.recent) {
		return
	}
	floor := int64(0)
	for _, d := range s.recalled {
		floor = max(floor, d.Seq)
	}
	more := a.fitRecent(s.recent, recentCost+left, s.overhead)
	for len(more) > 0 && more[0].Seq <= floor {
		more = more[1:]
	}
	if len(more) > len(s.recentIn) {
		s.recentIn = more
	}
}

// render lays the messages out, the stable prefix first, and records the
// sections' costs in the report in message order.
func (a *Assembler) render(s *assembly) []Message {
	stable, volatile := s.sys, systemMessage{}
	if a.cfg.Layout == LayoutCache {
		stable, volatile = s.sys.split(s.split > 0)
	}
	var msgs []Message
	if !stable.empty() {
		msgs = append(msgs, Message{Role: string(memory.RoleSystem), Content: stable.text()})
	}
	for _, t := range s.recentIn {
		msgs = append(msgs, Message{Role: string(t.Role), Name: MessageName(t.Name), Content: t.Content})
	}
	if !volatile.empty() {
		msgs = append(msgs, Message{Role: string(memory.RoleSystem), Content: volatile.text()})
	}
	if s.post != "" {
		msgs = append(msgs, Message{Role: string(memory.RoleSystem), Content: s.post})
	}
	newMsg := s.req.Message
	newMsg.Name = MessageName(newMsg.Name)
	msgs = append(msgs, newMsg)

	rep := &s.rep
	rep.Sections = append(rep.Sections, stable.reports(s.overhead)...)
	rep.Sections = append(rep.Sections, SectionReport{Name: SectionRecent, Tokens: a.recentCost(s), Items: len(s.recentIn)})
	rep.Sections = append(rep.Sections, volatile.reports(s.overhead)...)
	if s.post != "" {
		rep.Sections = append(rep.Sections, SectionReport{Name: SectionPostHistory, Tokens: s.postCost, Items: 1})
	}
	rep.Sections = append(rep.Sections, SectionReport{Name: SectionMessage, Tokens: s.msgCost, Items: 1})
	return msgs
}

// report totals the sections, lists the recent turns after the recalled
// ones, and checks the total against the budget.
func (a *Assembler) report(s *assembly) error {
	rep := &s.rep
	for _, sec := range rep.Sections {
		rep.UsedTokens += sec.Tokens
	}
	for _, t := range s.recentIn {
		rep.Turns = append(rep.Turns, TurnReport{Seq: t.Seq, Section: SectionRecent, Tokens: a.turnMessageCost(t, s.overhead), Reasons: []string{ReasonRecent}})
	}
	if rep.Turns == nil {
		rep.Turns = []TurnReport{}
	}
	if rep.Dropped == nil {
		rep.Dropped = []TurnReport{}
	}
	if rep.Summaries == nil {
		rep.Summaries = []SummaryReport{}
	}
	if rep.UsedTokens > s.req.BudgetTokens {
		// The accounting is an upper bound of the exact count; exceeding
		// the budget here is a bug, never something to send.
		return fmt.Errorf("retrieval: assembled %d tokens over a budget of %d", rep.UsedTokens, s.req.BudgetTokens)
	}
	return nil
}
