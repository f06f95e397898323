package replay

import (
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Report is the outcome of a run (the report.json schema, documented in
// the README).
type Report struct {
	Dataset       string `json:"dataset"`
	Conversations int    `json:"conversations"`
	Turns         int    `json:"turns"`
	Questions     int    `json:"questions"`
	Embedder      string `json:"embedder"`
	Haystack      int    `json:"haystack,omitempty"`
	Tokenizer     string `json:"tokenizer"`
	// Summaries tells whether compaction ran before the questions.
	Summaries bool `json:"summaries"`
	// Server is the longmem the contexts came from ("" in process).
	Server string `json:"server,omitempty"`
	// Configs name the --config files compared (strategy longmem@NAME).
	Configs []string `json:"configs,omitempty"`
	// BackendModel and JudgeModel are set end to end.
	BackendModel string `json:"backend_model,omitempty"`
	JudgeModel   string `json:"judge_model,omitempty"`
	// Strategies in display order.
	Strategies []string       `json:"strategies"`
	StartedAt  time.Time      `json:"started_at"`
	Seconds    float64        `json:"seconds"`
	Budgets    []BudgetReport `json:"budgets"`
	// Version is the longmem that ran (`longmem version`), Args its
	// replay command line and Settings the configuration of each
	// longmem config compared (name → its effective YAML, secrets
	// redacted): what it takes to run it again.
	Version  string            `json:"version,omitempty"`
	Args     []string          `json:"args,omitempty"`
	Settings map[string]string `json:"settings,omitempty"`
}

// locomoCategories name LoCoMo's numbered question categories.
var locomoCategories = map[string]string{
	"1": "multi-hop", "2": "temporal", "3": "open-domain", "4": "single-hop", "5": "adversarial",
}

// CategoryName is category c of a dataset as people say it: LoCoMo's
// numbers by their names ("4" → "single-hop"), other categories as they
// are.
func CategoryName(dataset, c string) string {
	if strings.EqualFold(dataset, "locomo") {
		if n, ok := locomoCategories[c]; ok {
			return n
		}
	}
	return c
}

// Scored is how many questions were scored (at the first budget, by the
// first strategy that has figures): a question whose evidence points to no
// turn is counted in Questions but skipped.
func Scored(r Report) int {
	for _, br := range r.Budgets {
		for _, n := range strategiesOf(r) {
			if st, ok := br.Strategies[n]; ok && st.Questions+st.NotApplicable > 0 {
				return st.Questions + st.NotApplicable
			}
		}
	}
	return 0
}

// BudgetReport holds every strategy's figures at one budget.
type BudgetReport struct {
	BudgetTokens int                      `json:"budget_tokens"`
	Strategies   map[string]StrategyStats `json:"strategies"`
}

// Metrics aggregate a strategy's results over a set of questions. Results
// marked not applicable count in NotApplicable only.
type Metrics struct {
	Questions       int     `json:"questions"`
	EvidenceRecall  float64 `json:"evidence_recall"`
	AnswerInContext float64 `json:"answer_in_context"`
	MeanUsedTokens  float64 `json:"mean_used_tokens"`
	P50Ms           float64 `json:"p50_ms"`
	P95Ms           float64 `json:"p95_ms"`
	P99Ms           float64 `json:"p99_ms"`
	// PrefixRatio is the mean shared-prefix ratio over the questions that
	// have a previous prompt in their conversation.
	PrefixRatio float64 `json:"prefix_ratio"`
	// Accuracy is the share of judged answers the judge found CORRECT (end
	// to end only).
	Accuracy      *float64 `json:"accuracy,omitempty"`
	Judged        int      `json:"judged,omitempty"`
	NotApplicable int      `json:"not_applicable,omitempty"`
}

// StrategyStats are a strategy's figures at one budget: overall (the
// embedded Metrics) and per category.
type StrategyStats struct {
	Metrics
	// ByCategory is the evidence recall per category and
	// AnswerInContextByCategory the answer_in_context (kept from the first
	// schema; Categories has every figure).
	ByCategory                map[string]float64 `json:"by_category"`
	AnswerInContextByCategory map[string]float64 `json:"answer_in_context_by_category"`
	Categories                map[string]Metrics `json:"categories"`
}

// Aggregate computes the report's figures from question records.
func Aggregate(records []QuestionRecord, budgets []int, strategies []string) []BudgetReport {
	var out []BudgetReport
	for _, b := range budgets {
		br := BudgetReport{BudgetTokens: b, Strategies: map[string]StrategyStats{}}
		for _, st := range strategies {
			var all []StrategyResult
			byCat := map[string][]StrategyResult{}
			for _, r := range records {
				if r.BudgetTokens != b {
					continue
				}
				res, ok := r.Strategies[st]
				if !ok {
					continue
				}
				all = append(all, res)
				byCat[r.Category] = append(byCat[r.Category], res)
			}
			s := StrategyStats{Metrics: metricsOf(all), ByCategory: map[string]float64{},
				AnswerInContextByCategory: map[string]float64{}, Categories: map[string]Metrics{}}
			for c, rs := range byCat {
				m := metricsOf(rs)
				s.Categories[c] = m
				s.ByCategory[c] = m.EvidenceRecall
				s.AnswerInContextByCategory[c] = m.AnswerInContext
			}
			br.Strategies[st] = s
		}
		out = append(out, br)
	}
	return out
}

func metricsOf(rs []StrategyResult) Metrics {
	var m Metrics
	var ms []float64
	var recall, answer, used, prefix float64
	prefixN, correct := 0, 0
	for _, r := range rs {
		if r.NotApplicable {
			m.NotApplicable++
			continue
		}
		m.Questions++
		recall += r.Recall
		answer += r.AnswerInContext
		used += float64(r.UsedTokens)
		ms = append(ms, r.Ms)
		if r.PrefixRatio != nil {
			prefix += *r.PrefixRatio
			prefixN++
		}
		if r.Verdict != "" {
			m.Judged++
			if r.Verdict == VerdictCorrect {
				correct++
			}
		}
	}
	if m.Questions == 0 {
		return m
	}
	n := float64(m.Questions)
	m.EvidenceRecall, m.AnswerInContext, m.MeanUsedTokens = round(recall/n), round(answer/n), round(used/n)
	if prefixN > 0 {
		m.PrefixRatio = round(prefix / float64(prefixN))
	}
	if m.Judged > 0 {
		a := round(float64(correct) / float64(m.Judged))
		m.Accuracy = &a
	}
	sort.Float64s(ms)
	m.P50Ms, m.P95Ms, m.P99Ms = round(quantile(ms, 0.5)), round(quantile(ms, 0.95)), round(quantile(ms, 0.99))
	return m
}

func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func round(f float64) float64 { return math.Round(f*10000) / 10000 }

// categoriesOf lists every category of a report, sorted.
func categoriesOf(r Report) []string {
	var cats []string
	for _, br := range r.Budgets {
		for _, st := range br.Strategies {
			for c := range st.Categories {
				if !slices.Contains(cats, c) {
					cats = append(cats, c)
				}
			}
		}
	}
	slices.Sort(cats)
	return cats
}

// strategiesOf returns the report's strategies in display order (those of
// an old report without the list, sorted).
func strategiesOf(r Report) []string {
	if len(r.Strategies) > 0 {
		return r.Strategies
	}
	var names []string
	for _, br := range r.Budgets {
		for n := range br.Strategies {
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	slices.Sort(names)
	return names
}

// Summary renders the report as a table for a terminal.
func Summary(r Report) string {
	var b strings.Builder
	questions := fmt.Sprintf("%d questions", r.Questions)
	if n := Scored(r); n != r.Questions {
		questions = fmt.Sprintf("%d questions (%d scored; %d skipped: their evidence points to no turn)", r.Questions, n, r.Questions-n)
	}
	fmt.Fprintf(&b, "%s: %d conversations, %d turns, %s, embedder %s, summaries %s, %.1fs\n",
		r.Dataset, r.Conversations, r.Turns, questions, r.Embedder, onOff(r.Summaries), r.Seconds)
	if r.Version != "" {
		fmt.Fprintf(&b, "%s\n", r.Version)
	}
	cats := categoriesOf(r)
	width := 9
	for _, n := range strategiesOf(r) {
		width = max(width, len(n))
	}
	e2e := r.BackendModel != ""
	fmt.Fprintf(&b, "%-7s %-*s %7s %7s", "budget", width, "strategy", "recall", "answer")
	for _, c := range cats {
		fmt.Fprintf(&b, " %7s", shortCat(CategoryName(r.Dataset, c)))
	}
	fmt.Fprintf(&b, " %7s %7s %7s %7s", "p50 ms", "p99 ms", "tokens", "prefix")
	if e2e {
		fmt.Fprintf(&b, " %7s", "J")
	}
	b.WriteString("\n")
	for _, br := range r.Budgets {
		for _, n := range strategiesOf(r) {
			st, ok := br.Strategies[n]
			if !ok {
				continue
			}
			fmt.Fprintf(&b, "%-7d %-*s ", br.BudgetTokens, width, n)
			if st.Questions == 0 && st.NotApplicable > 0 {
				fmt.Fprintf(&b, "n/a (does not fit the backend's window)\n")
				continue
			}
			fmt.Fprintf(&b, "%7.3f %7.3f", st.EvidenceRecall, st.AnswerInContext)
			for _, c := range cats {
				fmt.Fprintf(&b, " %7.3f", st.ByCategory[c])
			}
			fmt.Fprintf(&b, " %7.2f %7.2f %7.0f %7.3f", st.P50Ms, st.P99Ms, st.MeanUsedTokens, st.PrefixRatio)
			if e2e {
				if st.Accuracy != nil {
					fmt.Fprintf(&b, " %7.3f", *st.Accuracy)
				} else {
					fmt.Fprintf(&b, " %7s", "-")
				}
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// shortCat is a category's column header: "cat 1", or the first 7
// bytes of a long name ("multi-h").
func shortCat(c string) string {
	if len(c) <= 3 {
		return "cat " + c
	}
	if len(c) > 7 {
		return c[:7]
	}
	return c
}

// progress draws a one-line bar with ETA on a terminal: each render
// starts with a carriage return and overwrites the previous one.
type progress struct {
	w          io.Writer
	total, n   int
	start      time.Time
	lastRender time.Time
	label      string
	mu         sync.Mutex
	// now is the clock (time.Now; tests set their own).
	now func() time.Time
}

func newProgress(w io.Writer, total int) *progress {
	return newProgressAt(w, total, time.Now)
}

func newProgressAt(w io.Writer, total int, now func() time.Time) *progress {
	return &progress{w: w, total: total, start: now(), now: now}
}

// setLabel replaces the label shown from the next step on.
func (p *progress) setLabel(label string) {
	p.mu.Lock()
	p.label = label
	p.mu.Unlock()
}

// step counts one question done (label, when not empty, replaces the
// label shown). Safe for concurrent use.
func (p *progress) step(label string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	if label != "" {
		p.label = label
	}
	now := p.now()
	if p.w == nil || (now.Sub(p.lastRender) < 100*time.Millisecond && p.n < p.total) {
		return
	}
	p.lastRender = now
	frac := float64(p.n) / float64(max(p.total, 1))
	width := 30
	filled := min(width, int(frac*float64(width)))
	eta := "?"
	if p.n > 0 {
		rem := time.Duration(float64(now.Sub(p.start)) / frac * (1 - frac))
		eta = rem.Round(time.Second).String()
	}
	fmt.Fprintf(p.w, "\r[%s%s] %d/%d questions  %s  ETA %s   ", strings.Repeat("#", filled), strings.Repeat(".", width-filled), p.n, p.total, p.label, eta)
}

func (p *progress) done() {
	if p.w != nil {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", 90))
	}
}
