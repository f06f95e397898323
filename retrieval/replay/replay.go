package replay

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/longmem/longmem/memory"
	"github.com/longmem/longmem/retrieval"
)

// Strategy names in reports.
const (
	StrategyLongmem = "longmem"
	StrategyRecency = "recency"
	StrategyLexical = "lexical"
	StrategyDense   = "dense"
)

// Config of one replay run.
type Config struct {
	Budgets   []int
	Store     memory.Store
	Indexer   *retrieval.Indexer
	Index     retrieval.Index
	Assembler *retrieval.Assembler
	Tokenizer retrieval.Tokenizer
	Analyzer  *retrieval.Analyzer
	Embedder  retrieval.Embedder // nil: no dense baseline
	// MessageOverhead is the per-message template cost the baselines pay
	// (the assembler's own policy applies to longmem); default 4.
	MessageOverhead int
	// Progress receives a progress bar (nil: none).
	Progress io.Writer
	// Tenant for the replayed conversations (default "replay").
	Tenant string
	// Questions, when set, receives one JSON line per question and budget
	// (see QuestionRecord).
	Questions io.Writer
}

// QuestionRecord is one line of questions.jsonl: how each strategy did on
// one question at one budget, and the evidence longmem left out.
type QuestionRecord struct {
	Conversation string             `json:"conversation"`
	Question     string             `json:"question"`
	Answer       string             `json:"answer"`
	Category     string             `json:"category"`
	BudgetTokens int                `json:"budget_tokens"`
	Evidence     []int64            `json:"evidence"`
	Recall       map[string]float64 `json:"recall"`
	// AnswerInContext per strategy (see StrategyStats).
	AnswerInContext map[string]float64 `json:"answer_in_context"`
	Missed          []MissedTurn       `json:"missed,omitempty"`
}

// MissedTurn is an evidence turn longmem's context did not hold.
type MissedTurn struct {
	Seq     int64  `json:"seq"`
	Name    string `json:"name,omitempty"`
	Content string `json:"content"`
}

// Report is the outcome of a run (the report.json schema).
type Report struct {
	Dataset       string         `json:"dataset"`
	Conversations int            `json:"conversations"`
	Turns         int            `json:"turns"`
	Questions     int            `json:"questions"`
	Embedder      string         `json:"embedder"`
	Haystack      int            `json:"haystack,omitempty"`
	Tokenizer     string         `json:"tokenizer"`
	StartedAt     time.Time      `json:"started_at"`
	Seconds       float64        `json:"seconds"`
	Budgets       []BudgetReport `json:"budgets"`
}

// BudgetReport holds every strategy's figures at one budget.
type BudgetReport struct {
	BudgetTokens int                      `json:"budget_tokens"`
	Strategies   map[string]StrategyStats `json:"strategies"`
}

// StrategyStats are a strategy's figures at one budget.
type StrategyStats struct {
	EvidenceRecall float64            `json:"evidence_recall"`
	ByCategory     map[string]float64 `json:"by_category"`
	// AnswerInContext is, per question, the fraction of the gold answer's
	// content words (analysed terms) present in the context, averaged: it
	// credits a summary that carries the fact as well as the turn itself.
	AnswerInContext           float64            `json:"answer_in_context"`
	AnswerInContextByCategory map[string]float64 `json:"answer_in_context_by_category"`
	Questions                 int                `json:"questions"`
	P50Ms                     float64            `json:"p50_ms"`
	P95Ms                     float64            `json:"p95_ms"`
	P99Ms                     float64            `json:"p99_ms"`
	MeanUsedTokens            float64            `json:"mean_used_tokens"`
}

type sample struct {
	recall   float64
	answer   float64
	category string
	ms       float64
	used     int
}

// Run replays convs and measures every strategy at every budget.
func Run(ctx context.Context, cfg Config, dataset string, convs []Conversation) (Report, error) {
	if cfg.Tenant == "" {
		cfg.Tenant = "replay"
	}
	if cfg.MessageOverhead == 0 {
		cfg.MessageOverhead = 4
	}
	start := time.Now()
	rep := Report{Dataset: dataset, Conversations: len(convs), StartedAt: start.UTC(), Tokenizer: cfg.Tokenizer.Name(), Embedder: "none"}
	strategies := []string{StrategyLongmem, StrategyRecency, StrategyLexical}
	if cfg.Embedder != nil {
		strategies = append(strategies, StrategyDense)
	}
	samples := map[int]map[string][]sample{}
	for _, b := range cfg.Budgets {
		samples[b] = map[string][]sample{}
	}
	total := 0
	for _, c := range convs {
		total += len(c.Questions)
		rep.Turns += len(c.Turns)
	}
	rep.Questions = total
	bar := newProgress(cfg.Progress, total)
	for ci, c := range convs {
		id := fmt.Sprintf("%s-%d", sanitize(c.ID), start.UnixNano())
		refSeq, lastSeq, err := ingest(ctx, cfg, id, c)
		if err != nil {
			return rep, fmt.Errorf("replay: ingest %s: %w", c.ID, err)
		}
		if _, err := cfg.Indexer.Sync(ctx, cfg.Tenant, id, lastSeq); err != nil {
			return rep, fmt.Errorf("replay: index %s: %w", c.ID, err)
		}
		turns, err := cfg.Store.Turns(ctx, cfg.Tenant, id, 0, 0)
		if err != nil {
			return rep, err
		}
		bySeq := make(map[int64]memory.Turn, len(turns))
		for _, t := range turns {
			bySeq[t.Seq] = t
		}
		for _, q := range c.Questions {
			var ev []int64
			var evTurns []memory.Turn
			for _, r := range q.Evidence {
				if s, ok := refSeq[r]; ok {
					ev = append(ev, s)
					evTurns = append(evTurns, bySeq[s])
				}
			}
			if len(ev) == 0 {
				bar.step(fmt.Sprintf("conv %d/%d", ci+1, len(convs)))
				continue // evidence points nowhere: skipped, as the dataset notes
			}
			for _, budget := range cfg.Budgets {
				rec := QuestionRecord{Conversation: c.ID, Question: q.Text, Answer: q.Answer, Category: q.Category,
					BudgetTokens: budget, Evidence: ev, Recall: map[string]float64{}, AnswerInContext: map[string]float64{}}
				answer := cfg.Analyzer.Terms(q.Answer)
				for _, st := range strategies {
					text, used, ms, err := runStrategy(ctx, cfg, st, id, turns, q.Text, budget)
					if err != nil {
						return rep, fmt.Errorf("replay: %s %q at %d: %w", st, q.Text, budget, err)
					}
					r := recallOf(evTurns, text)
					a := answerIn(answer, cfg.Analyzer, text)
					rec.Recall[st], rec.AnswerInContext[st] = round(r), round(a)
					samples[budget][st] = append(samples[budget][st], sample{recall: r, answer: a, category: q.Category, ms: ms, used: used})
					if st == StrategyLongmem {
						rec.Missed = missed(evTurns, text)
					}
				}
				if cfg.Questions != nil {
					if err := json.NewEncoder(cfg.Questions).Encode(rec); err != nil {
						return rep, err
					}
				}
			}
			bar.step(fmt.Sprintf("conv %d/%d", ci+1, len(convs)))
		}
		if err := cfg.Store.DeleteConversation(ctx, cfg.Tenant, id); err != nil {
			return rep, err
		}
		if err := cfg.Indexer.Drop(ctx, cfg.Tenant, id); err != nil {
			return rep, err
		}
	}
	bar.done()
	for _, b := range cfg.Budgets {
		br := BudgetReport{BudgetTokens: b, Strategies: map[string]StrategyStats{}}
		for _, st := range strategies {
			br.Strategies[st] = aggregate(samples[b][st])
		}
		rep.Budgets = append(rep.Budgets, br)
	}
	rep.Seconds = time.Since(start).Seconds()
	return rep, nil
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
// (tokens counted once at write time, batches of up to 1,000 turns).
func ingest(ctx context.Context, cfg Config, id string, c Conversation) (map[string]int64, int64, error) {
	if _, err := cfg.Store.CreateConversation(ctx, memory.Conversation{ID: id, Tenant: cfg.Tenant}); err != nil {
		return nil, 0, err
	}
	refSeq := make(map[string]int64, len(c.Turns))
	var last int64
	for i := 0; i < len(c.Turns); i += memory.MaxAppendTurns {
		chunk := c.Turns[i:min(i+memory.MaxAppendTurns, len(c.Turns))]
		batch := make([]memory.Turn, len(chunk))
		for k, t := range chunk {
			batch[k] = memory.Turn{Role: memory.Role(t.Role), Name: t.Name, Content: t.Content, CreatedAt: t.CreatedAt,
				Tokens: cfg.Tokenizer.Count(t.Content)}
		}
		stored, err := cfg.Store.AppendTurns(ctx, cfg.Tenant, id, batch, memory.AppendOptions{})
		if err != nil {
			return nil, 0, err
		}
		for k, t := range stored {
			refSeq[chunk[k].Ref] = t.Seq
			last = t.Seq
		}
	}
	return refSeq, last, nil
}

// runStrategy returns the seqs of the turns a strategy's context holds, the
// tokens it used and the milliseconds it took.
// runStrategy returns the text of the context a strategy builds (every
// message's content; for the baselines, their turns' content), the tokens
// it used and the milliseconds it took.
func runStrategy(ctx context.Context, cfg Config, st, id string, turns []memory.Turn, question string, budget int) (string, int, float64, error) {
	t0 := time.Now()
	switch st {
	case StrategyLongmem:
		out, err := cfg.Assembler.Assemble(ctx, retrieval.Request{Tenant: cfg.Tenant, ConversationID: id,
			Message: retrieval.Message{Role: "user", Content: question}, BudgetTokens: budget})
		if err != nil {
			return "", 0, 0, err
		}
		ms := msSince(t0)
		var b strings.Builder
		for _, m := range out.Messages[:len(out.Messages)-1] { // the question itself is not context
			b.WriteString(m.Content)
			b.WriteString("\n")
		}
		return b.String(), out.Report.UsedTokens, ms, nil
	case StrategyRecency:
		free := budget - cfg.Tokenizer.Count(question) - cfg.MessageOverhead
		var b strings.Builder
		used := 0
		for i := len(turns) - 1; i >= 0; i-- {
			c := turns[i].Tokens + cfg.MessageOverhead
			if used+c > free {
				break
			}
			used += c
			b.WriteString(turns[i].Content)
			b.WriteString("\n")
		}
		return b.String(), used, msSince(t0), nil
	case StrategyLexical, StrategyDense:
		q := retrieval.Query{Limit: len(turns)}
		if st == StrategyLexical {
			q.Terms = cfg.Analyzer.QueryTerms(question)
		} else {
			v, err := cfg.Embedder.Embed(ctx, []string{question})
			if err != nil {
				return "", 0, 0, err
			}
			q.Dense = v[0]
		}
		res, err := cfg.Index.Search(ctx, retrieval.ScopedID(cfg.Tenant, id), q)
		if err != nil {
			return "", 0, 0, err
		}
		hits := res.Lexical
		if st == StrategyDense {
			hits = res.Dense
		}
		bySeq := make(map[int64]memory.Turn, len(turns))
		for _, t := range turns {
			bySeq[t.Seq] = t
		}
		free := budget - cfg.Tokenizer.Count(question) - cfg.MessageOverhead
		var b strings.Builder
		used := 0
		for _, h := range hits {
			c := bySeq[h.Seq].Tokens + cfg.MessageOverhead
			if used+c > free {
				break // best first until the budget is full
			}
			used += c
			b.WriteString(bySeq[h.Seq].Content)
			b.WriteString("\n")
		}
		return b.String(), used, msSince(t0), nil
	}
	return "", 0, 0, fmt.Errorf("unknown strategy %q", st)
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

func aggregate(ss []sample) StrategyStats {
	st := StrategyStats{ByCategory: map[string]float64{}, AnswerInContextByCategory: map[string]float64{}, Questions: len(ss)}
	if len(ss) == 0 {
		return st
	}
	sum, used, ans := 0.0, 0.0, 0.0
	catSum, catN, catAns := map[string]float64{}, map[string]int{}, map[string]float64{}
	ms := make([]float64, len(ss))
	for i, s := range ss {
		sum += s.recall
		ans += s.answer
		used += float64(s.used)
		catSum[s.category] += s.recall
		catAns[s.category] += s.answer
		catN[s.category]++
		ms[i] = s.ms
	}
	st.EvidenceRecall = round(sum / float64(len(ss)))
	st.AnswerInContext = round(ans / float64(len(ss)))
	st.MeanUsedTokens = round(used / float64(len(ss)))
	for c, v := range catSum {
		st.ByCategory[c] = round(v / float64(catN[c]))
		st.AnswerInContextByCategory[c] = round(catAns[c] / float64(catN[c]))
	}
	sort.Float64s(ms)
	st.P50Ms, st.P95Ms, st.P99Ms = round(quantile(ms, 0.5)), round(quantile(ms, 0.95)), round(quantile(ms, 0.99))
	return st
}

func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func round(f float64) float64 { return math.Round(f*10000) / 10000 }

// Summary renders the report as a table for a terminal.
func Summary(r Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d conversations, %d turns, %d questions, embedder %s, %.1fs\n", r.Dataset, r.Conversations, r.Turns, r.Questions, r.Embedder, r.Seconds)
	var cats []string
	for _, br := range r.Budgets {
		for _, st := range br.Strategies {
			for c := range st.ByCategory {
				if !slices.Contains(cats, c) {
					cats = append(cats, c)
				}
			}
		}
	}
	slices.Sort(cats)
	fmt.Fprintf(&b, "%-8s %-9s %7s %7s", "budget", "strategy", "recall", "answer")
	for _, c := range cats {
		fmt.Fprintf(&b, " %8s", "cat "+shortCat(c))
	}
	fmt.Fprintf(&b, " %8s %8s %8s\n", "p50 ms", "p99 ms", "tokens")
	for _, br := range r.Budgets {
		names := make([]string, 0, len(br.Strategies))
		for n := range br.Strategies {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			st := br.Strategies[n]
			fmt.Fprintf(&b, "%-8d %-9s %7.3f %7.3f", br.BudgetTokens, n, st.EvidenceRecall, st.AnswerInContext)
			for _, c := range cats {
				fmt.Fprintf(&b, " %8.3f", st.ByCategory[c])
			}
			fmt.Fprintf(&b, " %8.2f %8.2f %8.0f\n", st.P50Ms, st.P99Ms, st.MeanUsedTokens)
		}
	}
	return b.String()
}

func shortCat(c string) string {
	if len(c) > 4 {
		return c[:4]
	}
	return c
}

// progress draws a one-line bar with ETA on a terminal.
type progress struct {
	w          io.Writer
	total, n   int
	start      time.Time
	lastRender time.Time
}

func newProgress(w io.Writer, total int) *progress {
	return &progress{w: w, total: total, start: time.Now()}
}

func (p *progress) step(label string) {
	p.n++
	if p.w == nil || (time.Since(p.lastRender) < 100*time.Millisecond && p.n < p.total) {
		return
	}
	p.lastRender = time.Now()
	frac := float64(p.n) / float64(max(p.total, 1))
	width := 30
	filled := int(frac * float64(width))
	eta := "?"
	if p.n > 0 {
		rem := time.Duration(float64(time.Since(p.start)) / frac * (1 - frac))
		eta = rem.Round(time.Second).String()
	}
	fmt.Fprintf(p.w, "\r[%s%s] %d/%d questions  %s  ETA %s   ", strings.Repeat("#", filled), strings.Repeat(".", width-filled), p.n, p.total, label, eta)
}

func (p *progress) done() {
	if p.w != nil {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", 90))
	}
}
