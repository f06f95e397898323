package replay

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/longmem/longmem/memory"
	"github.com/longmem/longmem/retrieval"
)

// Strategy names in reports. A longmem under test is named by its Longmem
// entry ("longmem", or "longmem@NAME" for one of several configs); with
// summaries on it also runs without them under the same name plus
// NoSumSuffix.
const (
	StrategyLongmem     = "longmem"
	StrategyRecency     = "recency"
	StrategyLexical     = "lexical"
	StrategyDense       = "dense"
	StrategyFullContext = "full-context"
	NoSumSuffix         = "-nosum"
)

// Assembler builds a context: *retrieval.Assembler in process, or a
// server's POST /context (Client).
type Assembler interface {
	Assemble(ctx context.Context, req retrieval.Request) (retrieval.Context, error)
}

// Loader receives every conversation the replay ingests locally, before
// its questions are asked (a server under test), and forgets it after.
type Loader interface {
	// Load creates conversation id with turns (in order; they get seqs
	// 1..len) and, with compact, compacts it to completion.
	Load(ctx context.Context, id string, turns []memory.Turn, compact bool) error
	Delete(ctx context.Context, id string) error
}

// Longmem is one longmem configuration under test.
type Longmem struct {
	// Name is the strategy name in reports.
	Name      string
	Assembler Assembler
	// NoSummaries asks every context without summaries (--summaries off).
	NoSummaries bool
	// CompareNoSummaries also runs each question without summaries, as
	// strategy Name+NoSumSuffix (summaries on, in process).
	CompareNoSummaries bool
	// Compact, when set, gives this configuration its own copy of every
	// conversation (appended and indexed like the shared one, under
	// another id, with the same seqs) compacted with Compact instead of
	// Config.Compact: configurations whose compaction settings differ
	// each read their own summaries. Entries with the same non-empty
	// CopyKey share one copy. Not with Config.Remote.
	Compact func(ctx context.Context, tenant, id string) error
	CopyKey string
}

// Config of one replay run.
type Config struct {
	Budgets   []int
	Store     memory.Store
	Indexer   *retrieval.Indexer
	Index     retrieval.Index
	Tokenizer retrieval.Tokenizer
	Analyzer  *retrieval.Analyzer
	Embedder  retrieval.Embedder // nil: no dense baseline
	// Longmem are the configurations under test, in report order (at
	// least one).
	Longmem []Longmem
	// Summaries: compaction runs after each ingest (Compact in process,
	// the Remote's compaction for a server).
	Summaries bool
	// Compact, when set, compacts a conversation to completion after its
	// ingest, so that its summaries exist before the questions.
	Compact func(ctx context.Context, tenant, id string) error
	// Remote, when set, also receives every conversation (a server the
	// Longmem assemblers call).
	Remote Loader
	// MessageOverhead is the per-message template cost the baselines pay
	// (the assembler's own policy applies to longmem); default 4.
	MessageOverhead int
	// Progress receives a progress bar (nil: none).
	Progress io.Writer
	// Tenant for the replayed conversations (default "replay").
	Tenant string
	// Questions, when set, receives one JSON line per question and budget
	// as each completes (see QuestionRecord).
	Questions io.Writer
	// Prior are records of an interrupted run (--resume): questions they
	// hold are not asked again, and they count in the report.
	Prior []QuestionRecord
	// EndToEnd, when set, has a backend answer every question from each
	// strategy's context and a judge grade the answer.
	EndToEnd *EndToEnd
}

// QuestionRecord is one line of questions.jsonl: how every strategy did on
// one question at one budget.
type QuestionRecord struct {
	Conversation string `json:"conversation"`
	// Index is the question's position among its conversation's questions
	// (0-based); with Conversation and BudgetTokens it keys the record.
	Index        int     `json:"index"`
	Question     string  `json:"question"`
	Answer       string  `json:"answer"`
	Category     string  `json:"category"`
	BudgetTokens int     `json:"budget_tokens"`
	Evidence     []int64 `json:"evidence"`
	// Strategies holds each strategy's outcome.
	Strategies map[string]StrategyResult `json:"strategies"`
	// Missed are the evidence turns the first longmem left out.
	Missed []MissedTurn `json:"missed,omitempty"`
}

// StrategyResult is one strategy's outcome on one question.
type StrategyResult struct {
	// Recall is the fraction of the evidence turns whose content the
	// context holds verbatim.
	Recall float64 `json:"recall"`
	// AnswerInContext is the fraction of the gold answer's content words
	// (analysed terms) present in the context.
	AnswerInContext float64 `json:"answer_in_context"`
	UsedTokens      int     `json:"used_tokens"`
	// Ms is the assembly latency in milliseconds.
	Ms float64 `json:"ms"`
	// PrefixRatio is the share of this prompt's tokens in the prefix it
	// shares with the previous prompt of the same conversation (same
	// strategy and budget); absent for a conversation's first question.
	PrefixRatio *float64 `json:"prefix_ratio,omitempty"`
	// Retrieved are the seqs of the turns the context holds, ascending.
	Retrieved []int64 `json:"retrieved"`
	// Summaries is how many summaries the context holds.
	Summaries int `json:"summaries,omitempty"`
	// NotApplicable: full-context, when the conversation does not fit the
	// backend's window. Such a result counts in no average.
	NotApplicable bool `json:"not_applicable,omitempty"`
	// Reply is the backend's answer and Verdict the judge's CORRECT or
	// WRONG (end to end only; no verdict for skipped categories).
	Reply   string `json:"reply,omitempty"`
	Verdict string `json:"verdict,omitempty"`
}

// MissedTurn is an evidence turn longmem's context did not hold.
type MissedTurn struct {
	Seq     int64  `json:"seq"`
	Name    string `json:"name,omitempty"`
	Content string `json:"content"`
}

// recordKey identifies a record across runs.
type recordKey struct {
	conv   string
	index  int
	budget int
}

func (r QuestionRecord) key() recordKey { return recordKey{r.Conversation, r.Index, r.BudgetTokens} }

// strategies lists the strategy names of a run, in report order.
func (cfg Config) strategies() []string {
	var out []string
	for _, l := range cfg.Longmem {
		out = append(out, l.Name)
		if l.CompareNoSummaries {
			out = append(out, l.Name+NoSumSuffix)
		}
	}
	out = append(out, StrategyRecency, StrategyLexical)
	if cfg.Embedder != nil {
		out = append(out, StrategyDense)
	}
	if cfg.EndToEnd != nil {
		out = append(out, StrategyFullContext)
	}
	return out
}

// outcome is a strategy's context for one question, before the backend.
type outcome struct {
	res      StrategyResult
	messages []retrieval.Message
}

// job is one question's records awaiting the backend and the judge.
type job struct {
	records  []*QuestionRecord
	contexts []map[string][]retrieval.Message // per record, per strategy
}

// Run replays convs and measures every strategy at every budget.
func Run(ctx context.Context, cfg Config, dataset string, convs []Conversation) (Report, error) {
	if cfg.Tenant == "" {
		cfg.Tenant = "replay"
	}
	if cfg.MessageOverhead == 0 {
		cfg.MessageOverhead = 4
	}
	if len(cfg.Longmem) == 0 {
		return Report{}, errors.New("replay: no longmem configuration to test")
	}
	for _, l := range cfg.Longmem {
		if l.Compact != nil && cfg.Remote != nil {
			return Report{}, fmt.Errorf("replay: %s has its own compaction, but the contexts come from a server", l.Name)
		}
	}
	start := time.Now()
	rep := Report{Dataset: dataset, Conversations: len(convs), StartedAt: start.UTC(), Tokenizer: cfg.Tokenizer.Name(),
		Embedder: "none", Summaries: cfg.Summaries, Strategies: cfg.strategies()}
	done := map[recordKey]bool{}
	for _, r := range cfg.Prior {
		done[r.key()] = true
	}
	total := 0
	for _, c := range convs {
		total += len(c.Questions)
		rep.Turns += len(c.Turns)
	}
	rep.Questions = total
	bar := newProgress(cfg.Progress, total)

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		mu      sync.Mutex
		records = slices.Clone(cfg.Prior)
		wg      sync.WaitGroup
		jobs    = make(chan job)
	)
	emit := func(rs []*QuestionRecord) error {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range rs {
			if cfg.Questions != nil {
				if err := json.NewEncoder(cfg.Questions).Encode(r); err != nil {
					return err
				}
			}
			records = append(records, *r)
		}
		bar.step("")
		return nil
	}
	if e := cfg.EndToEnd; e != nil {
		for range max(1, e.Concurrency) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range jobs {
					if ctx.Err() != nil {
						continue
					}
					if err := e.answer(ctx, j); err != nil {
						cancel(err)
						continue
					}
					if err := emit(j.records); err != nil {
						cancel(err)
					}
				}
			}()
		}
	}
	runErr := func() error {
		defer close(jobs)
		for ci, c := range convs {
			if err := runConversation(ctx, cfg, c, start, done, jobs, emit, bar, ci, len(convs)); err != nil {
				return err
			}
		}
		return nil
	}()
	wg.Wait()
	if err := context.Cause(ctx); err != nil && runErr == nil {
		runErr = err
	}
	bar.done()
	rep.Seconds = time.Since(start).Seconds()
	rep.Budgets = Aggregate(records, cfg.Budgets, rep.Strategies)
	return rep, runErr
}

// runConversation ingests one conversation, assembles every strategy's
// context for each of its questions and either records them or hands them
// to the end-to-end workers.
func runConversation(ctx context.Context, cfg Config, c Conversation, start time.Time, done map[recordKey]bool,
	jobs chan<- job, emit func([]*QuestionRecord) error, bar *progress, ci, nconv int) error {
	pending := false
	for qi := range c.Questions {
		for _, b := range cfg.Budgets {
			if !done[recordKey{c.ID, qi, b}] {
				pending = true
			}
		}
	}
	label := fmt.Sprintf("conv %d/%d", ci+1, nconv)
	if !pending {
		for range c.Questions {
			bar.step(label)
		}
		return nil
	}
	bar.setLabel(label + " ingest")
	id := fmt.Sprintf("%s-%d", sanitize(c.ID), start.UnixNano())
	refSeq, turns, err := ingest(ctx, cfg, id, c)
	if err != nil {
		return fmt.Errorf("replay: ingest %s: %w", c.ID, err)
	}
	defer func() {
		_ = cfg.Store.DeleteConversation(context.WithoutCancel(ctx), cfg.Tenant, id)
		_ = cfg.Indexer.Drop(context.WithoutCancel(ctx), cfg.Tenant, id)
		if cfg.Remote != nil {
			_ = cfg.Remote.Delete(context.WithoutCancel(ctx), id)
		}
	}()
	ids, err := ingestCopies(ctx, cfg, id, c, refSeq)
	defer func() {
		for _, cid := range ids {
			if cid != id {
				_ = cfg.Store.DeleteConversation(context.WithoutCancel(ctx), cfg.Tenant, cid)
				_ = cfg.Indexer.Drop(context.WithoutCancel(ctx), cfg.Tenant, cid)
			}
		}
	}()
	if err != nil {
		return fmt.Errorf("replay: ingest %s: %w", c.ID, err)
	}
	bySeq := make(map[int64]memory.Turn, len(turns))
	for _, t := range turns {
		bySeq[t.Seq] = t
	}
	bar.setLabel(label)
	strategies := cfg.strategies()
	prev := map[string]string{} // strategy/budget → previous rendered prompt
	var full *outcome
	for qi, q := range c.Questions {
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		var ev []int64
		var evTurns []memory.Turn
		for _, r := range q.Evidence {
			if s, ok := refSeq[r]; ok {
				ev = append(ev, s)
				evTurns = append(evTurns, bySeq[s])
			}
		}
		if len(ev) == 0 {
			bar.step(label)
			continue // evidence points nowhere: skipped, as the dataset notes
		}
		answer := cfg.Analyzer.Terms(q.Answer)
		var j job
		for _, budget := range cfg.Budgets {
			rec := &QuestionRecord{Conversation: c.ID, Index: qi, Question: q.Text, Answer: q.Answer, Category: q.Category,
				BudgetTokens: budget, Evidence: ev, Strategies: map[string]StrategyResult{}}
			msgs := map[string][]retrieval.Message{}
			for _, st := range strategies {
				var o outcome
				if st == StrategyFullContext {
					if full == nil {
						f := fullContext(cfg, turns, cfg.EndToEnd.Window)
						full = &f
					}
					o = *full
					o.messages = append(slices.Clone(o.messages), retrieval.Message{Role: "user", Content: q.Text})
				} else if o, err = runStrategy(ctx, cfg, st, id, ids, turns, bySeq, q.Text, budget); err != nil {
					return fmt.Errorf("replay: %s %q at %d: %w", st, q.Text, budget, err)
				}
				text := contextText(o.messages)
				if !o.res.NotApplicable {
					o.res.Recall = round(recallOf(evTurns, text))
					o.res.AnswerInContext = round(answerIn(answer, cfg.Analyzer, text))
				}
				rendered := render(o.messages)
				k := fmt.Sprintf("%s/%d", st, budget)
				if p, ok := prev[k]; ok {
					r := round(prefixRatio(cfg.Tokenizer, p, rendered))
					o.res.PrefixRatio = &r
				}
				prev[k] = rendered
				rec.Strategies[st] = o.res
				msgs[st] = o.messages
				if st == cfg.Longmem[0].Name {
					rec.Missed = missed(evTurns, text)
				}
			}
			if done[rec.key()] {
				continue
			}
			j.records = append(j.records, rec)
			j.contexts = append(j.contexts, msgs)
		}
		if len(j.records) == 0 {
			bar.step(label)
			continue
		}
		if cfg.EndToEnd != nil {
			select {
			case jobs <- j:
			case <-ctx.Done():
				return context.Cause(ctx)
			}
			continue
		}
		if err := emit(j.records); err != nil {
			return err
		}
	}
	return nil
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '-'
	}, s)
}

// ingest appends the conversation through the store as the server would
// (tokens counted once at write time, batches of up to 1,000 turns),
// indexes it, compacts it when configured and loads it into the remote.
// It returns the seq of each dataset ref and the stored turns.
func ingest(ctx context.Context, cfg Config, id string, c Conversation) (map[string]int64, []memory.Turn, error) {
	if _, err := cfg.Store.CreateConversation(ctx, memory.Conversation{ID: id, Tenant: cfg.Tenant}); err != nil {
		return nil, nil, err
	}
	refSeq := make(map[string]int64, len(c.Turns))
	var all []memory.Turn
	for i := 0; i < len(c.Turns); i += memory.MaxAppendTurns {
		chunk := c.Turns[i:min(i+memory.MaxAppendTurns, len(c.Turns))]
		batch := make([]memory.Turn, len(chunk))
		for k, t := range chunk {
			batch[k] = memory.Turn{Role: memory.Role(t.Role), Name: t.Name, Content: t.Content, CreatedAt: t.CreatedAt,
				Tokens: cfg.Tokenizer.Count(t.Content)}
		}
		stored, err := cfg.Store.AppendTurns(ctx, cfg.Tenant, id, batch, memory.AppendOptions{})
		if err != nil {
			return nil, nil, err
		}
		for k, t := range stored {
			refSeq[chunk[k].Ref] = t.Seq
		}
		all = append(all, stored...)
	}
	var last int64
	if len(all) > 0 {
		last = all[len(all)-1].Seq
	}
	if _, err := cfg.Indexer.Sync(ctx, cfg.Tenant, id, last); err != nil {
		return nil, nil, fmt.Errorf("index: %w", err)
	}
	if cfg.Compact != nil {
		if err := cfg.Compact(ctx, cfg.Tenant, id); err != nil {
			return nil, nil, fmt.Errorf("compact: %w", err)
		}
	}
	if cfg.Remote != nil {
		if err := cfg.Remote.Load(ctx, id, all, cfg.Summaries); err != nil {
			return nil, nil, fmt.Errorf("server: %w", err)
		}
	}
	return refSeq, all, nil
}

// ingestCopies ingests the conversation once more for each distinct copy
// the Longmem entries with their own Compact ask for, and returns the
// conversation each entry reads (id: the shared one). The ids it returns
// are set even on error, for the caller to delete.
func ingestCopies(ctx context.Context, cfg Config, id string, c Conversation, refSeq map[string]int64) ([]string, error) {
	ids := make([]string, len(cfg.Longmem))
	byKey := map[string]string{}
	for i, l := range cfg.Longmem {
		ids[i] = id
		if l.Compact == nil {
			continue
		}
		key := l.CopyKey
		if key == "" {
			key = fmt.Sprintf("#%d", i)
		}
		if cid, ok := byKey[key]; ok {
			ids[i] = cid
			continue
		}
		cid := fmt.Sprintf("%s-c%d", id, len(byKey)+1)
		byKey[key], ids[i] = cid, cid
		cc := cfg
		cc.Compact, cc.Remote = l.Compact, nil
		seqs, _, err := ingest(ctx, cc, cid, c)
		if err != nil {
			return ids, fmt.Errorf("copy for %s: %w", l.Name, err)
		}
		for ref, s := range seqs {
			if refSeq[ref] != s {
				return ids, fmt.Errorf("copy for %s: turn %s got seq %d, %d in the shared conversation", l.Name, ref, s, refSeq[ref])
			}
		}
	}
	return ids, nil
}

// runStrategy builds a strategy's context for one question: its messages
// (the question last), the tokens it used, the time it took and the turns
// it holds. id is the shared conversation, ids the one each Longmem entry
// reads.
func runStrategy(ctx context.Context, cfg Config, st, id string, ids []string, turns []memory.Turn, bySeq map[int64]memory.Turn, question string, budget int) (outcome, error) {
	for i, l := range cfg.Longmem {
		if st != l.Name && st != l.Name+NoSumSuffix {
			continue
		}
		t0 := time.Now()
		out, err := l.Assembler.Assemble(ctx, retrieval.Request{Tenant: cfg.Tenant, ConversationID: ids[i],
			Message: retrieval.Message{Role: "user", Content: question}, BudgetTokens: budget,
			NoSummaries: l.NoSummaries || st != l.Name})
		if err != nil {
			return outcome{}, err
		}
		o := outcome{messages: out.Messages, res: StrategyResult{Ms: msSince(t0), UsedTokens: out.Report.UsedTokens,
			Summaries: len(out.Report.Summaries), Retrieved: []int64{}}}
		for _, t := range out.Report.Turns {
			o.res.Retrieved = append(o.res.Retrieved, t.Seq)
		}
		slices.Sort(o.res.Retrieved)
		return o, nil
	}
	t0 := time.Now()
	free := budget - cfg.Tokenizer.Count(question) - cfg.MessageOverhead
	var chosen []memory.Turn
	used := 0
	switch st {
	case StrategyRecency:
		for i := len(turns) - 1; i >= 0; i-- {
			c := turns[i].Tokens + cfg.MessageOverhead
			if used+c > free {
				break
			}
			used += c
			chosen = append(chosen, turns[i])
		}
	case StrategyLexical, StrategyDense:
		q := retrieval.Query{Limit: len(turns)}
		if st == StrategyLexical {
			q.Terms = cfg.Analyzer.QueryTerms(question)
		} else {
			v, err := cfg.Embedder.Embed(ctx, []string{question})
			if err != nil {
				return outcome{}, err
			}
			q.Dense = v[0]
		}
		res, err := cfg.Index.Search(ctx, retrieval.ScopedID(cfg.Tenant, id), q)
		if err != nil {
			return outcome{}, err
		}
		hits := res.Lexical
		if st == StrategyDense {
			hits = res.Dense
		}
		for _, h := range hits {
			c := bySeq[h.Seq].Tokens + cfg.MessageOverhead
			if used+c > free {
				break // best first until the budget is full
			}
			used += c
			chosen = append(chosen, bySeq[h.Seq])
		}
	default:
		return outcome{}, fmt.Errorf("unknown strategy %q", st)
	}
	// The baselines send their turns as chat messages, oldest first.
	slices.SortFunc(chosen, func(a, b memory.Turn) int { return cmp.Compare(a.Seq, b.Seq) })
	o := outcome{res: StrategyResult{Ms: msSince(t0), UsedTokens: used, Retrieved: []int64{}}}
	for _, t := range chosen {
		o.messages = append(o.messages, retrieval.Message{Role: string(t.Role), Name: retrieval.MessageName(t.Name), Content: t.Content})
		o.res.Retrieved = append(o.res.Retrieved, t.Seq)
	}
	o.messages = append(o.messages, retrieval.Message{Role: "user", Content: question})
	return o, nil
}

// fullContext is the whole conversation in one system message, dated by
// day, when it fits window tokens (else marked not applicable); the
// question is appended by the caller.
func fullContext(cfg Config, turns []memory.Turn, window int) outcome {
	var b strings.Builder
	b.WriteString("The whole conversation so far:")
	day := ""
	all := make([]int64, 0, len(turns))
	for _, t := range turns {
		if d := t.CreatedAt.UTC().Format("Monday, 2 January 2006"); d != day && !t.CreatedAt.IsZero() {
			day = d
			b.WriteString("\n[" + d + "]")
		}
		b.WriteString("\n")
		if t.Name != "" {
			b.WriteString(t.Name + ": ")
		}
		b.WriteString(t.Content)
		all = append(all, t.Seq)
	}
	text := b.String()
	used := cfg.Tokenizer.Count(text) + 2*cfg.MessageOverhead
	o := outcome{res: StrategyResult{UsedTokens: used, Retrieved: all}, messages: []retrieval.Message{{Role: "system", Content: text}}}
	if window > 0 && used > window {
		o.res.NotApplicable = true
		o.res.Retrieved = []int64{}
	}
	return o
}

// contextText is the content of every message but the last (the question
// is not context).
func contextText(msgs []retrieval.Message) string {
	var b strings.Builder
	for _, m := range msgs[:max(0, len(msgs)-1)] {
		b.WriteString(m.Content)
		b.WriteString("\n")
	}
	return b.String()
}

// render is a prompt as the bytes a chat template would lay out: role,
// name and content of each message in order.
func render(msgs []retrieval.Message) string {
	var b strings.Builder
	for _, m := range msgs {
		b.WriteString("<|" + m.Role)
		if m.Name != "" {
			b.WriteString(":" + m.Name)
		}
		b.WriteString("|>\n")
		b.WriteString(m.Content)
		b.WriteString("\n")
	}
	return b.String()
}

// prefixRatio is the tokens of the longest common byte prefix of prev and
// cur (cut back to a whole character) over the tokens of cur: the share of
// cur a backend's prefix cache could reuse.
func prefixRatio(tok retrieval.Tokenizer, prev, cur string) float64 {
	n := 0
	for n < len(prev) && n < len(cur) && prev[n] == cur[n] {
		n++
	}
	for n > 0 && n < len(cur) && !utf8.RuneStart(cur[n]) {
		n--
	}
	total := tok.Count(cur)
	if total == 0 {
		return 0
	}
	return min(1, float64(tok.Count(cur[:n]))/float64(total))
}

// missed lists the evidence turns whose content the context does not hold.
func missed(evidence []memory.Turn, context string) []MissedTurn {
	var out []MissedTurn
	for _, e := range evidence {
		if !strings.Contains(context, e.Content) {
			out = append(out, MissedTurn{Seq: e.Seq, Name: e.Name, Content: e.Content})
		}
	}
	return out
}

func msSince(t time.Time) float64 { return float64(time.Since(t).Microseconds()) / 1000 }

// answerIn is the fraction of the answer's terms among the context's terms
// (1 when the answer has no content word).
func answerIn(answer []string, an *retrieval.Analyzer, context string) float64 {
	if len(answer) == 0 {
		return 1
	}
	have := map[string]bool{}
	for _, t := range an.Terms(context) {
		have[t] = true
	}
	got := 0
	for _, t := range answer {
		if have[t] {
			got++
		}
	}
	return float64(got) / float64(len(answer))
}

// recallOf is the fraction of the evidence turns whose content the context
// holds (verbatim, as the assembler renders it).
func recallOf(evidence []memory.Turn, context string) float64 {
	got := 0
	for _, e := range evidence {
		if strings.Contains(context, e.Content) {
			got++
		}
	}
	return float64(got) / float64(len(evidence))
}
