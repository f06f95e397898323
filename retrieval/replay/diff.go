package replay

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// ReadRecords reads a questions.jsonl file.
func ReadRecords(path string) ([]QuestionRecord, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []QuestionRecord
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 64<<20)
	for n := 1; sc.Scan(); n++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var r QuestionRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		out = append(out, r)
	}
	return out, sc.Err()
}

// ReadRun reads a run's report.json and the questions.jsonl beside it.
func ReadRun(reportPath string) (Report, []QuestionRecord, error) {
	var r Report
	raw, err := os.ReadFile(reportPath)
	if err != nil {
		return r, nil, err
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return r, nil, fmt.Errorf("%s: %w", reportPath, err)
	}
	qs, err := ReadRecords(filepath.Join(filepath.Dir(reportPath), "questions.jsonl"))
	return r, qs, err
}

// Diff shows what changed from run a to run b: per question and budget,
// each strategy both runs have whose recall, answer_in_context or verdict
// changed, then the aggregate deltas.
func Diff(a Report, qa []QuestionRecord, b Report, qb []QuestionRecord) string {
	var s strings.Builder
	byKey := map[recordKey]QuestionRecord{}
	for _, r := range qa {
		byKey[r.key()] = r
	}
	common := func(x, y []string) []string {
		var out []string
		for _, n := range x {
			if slices.Contains(y, n) {
				out = append(out, n)
			}
		}
		return out
	}
	strategies := common(strategiesOf(a), strategiesOf(b))
	fmt.Fprintf(&s, "A: %s (%d records)   B: %s (%d records)\n", a.StartedAt.Format("2006-01-02 15:04"), len(qa), b.StartedAt.Format("2006-01-02 15:04"), len(qb))
	changed, better, worse, matched := 0, 0, 0, 0
	for _, rb := range qb {
		ra, ok := byKey[rb.key()]
		if !ok {
			continue
		}
		matched++
		var lines []string
		for _, st := range strategies {
			x, okx := ra.Strategies[st]
			y, oky := rb.Strategies[st]
			if !okx || !oky {
				continue
			}
			var parts []string
			if x.Recall != y.Recall {
				parts = append(parts, fmt.Sprintf("recall %.2f→%.2f", x.Recall, y.Recall))
			}
			if x.AnswerInContext != y.AnswerInContext {
				parts = append(parts, fmt.Sprintf("answer_in_context %.2f→%.2f", x.AnswerInContext, y.AnswerInContext))
			}
			if x.Verdict != y.Verdict {
				parts = append(parts, fmt.Sprintf("verdict %s→%s", orDash(x.Verdict), orDash(y.Verdict)))
			}
			if len(parts) == 0 {
				continue
			}
			if st == strategies[0] {
				if y.Recall+y.AnswerInContext > x.Recall+x.AnswerInContext {
					better++
				} else {
					worse++
				}
			}
			lines = append(lines, fmt.Sprintf("    %-14s %s", st, strings.Join(parts, ", ")))
		}
		if len(lines) > 0 {
			changed++
			fmt.Fprintf(&s, "%s #%d @%d [cat %s] %s\n%s\n", rb.Conversation, rb.Index, rb.BudgetTokens, rb.Category, rb.Question, strings.Join(lines, "\n"))
		}
	}
	fmt.Fprintf(&s, "\n%d of %d matching question×budget records changed", changed, matched)
	if len(strategies) > 0 {
		fmt.Fprintf(&s, " (%s: %d better, %d worse)", strategies[0], better, worse)
	}
	s.WriteString("\n\naggregate deltas (B − A):\n")
	fmt.Fprintf(&s, "%-7s %-16s %9s %9s %9s %9s\n", "budget", "strategy", "recall", "answer", "tokens", "J")
	for _, bb := range b.Budgets {
		i := slices.IndexFunc(a.Budgets, func(x BudgetReport) bool { return x.BudgetTokens == bb.BudgetTokens })
		if i < 0 {
			continue
		}
		for _, st := range strategies {
			x, okx := a.Budgets[i].Strategies[st]
			y, oky := bb.Strategies[st]
			if !okx || !oky {
				continue
			}
			acc := "-"
			if x.Accuracy != nil && y.Accuracy != nil {
				acc = fmt.Sprintf("%+.3f", *y.Accuracy-*x.Accuracy)
			}
			fmt.Fprintf(&s, "%-7d %-16s %+9.3f %+9.3f %+9.0f %9s\n", bb.BudgetTokens, st,
				y.EvidenceRecall-x.EvidenceRecall, y.AnswerInContext-x.AnswerInContext, y.MeanUsedTokens-x.MeanUsedTokens, acc)
		}
	}
	return s.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
