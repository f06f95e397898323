package replay

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/longmem/longmem/retrieval"
)

// Verdicts of the judge.
const (
	VerdictCorrect = "CORRECT"
	VerdictWrong   = "WRONG"
)

// LLM completes a chat (an OpenAI-compatible backend; cmd adapts the
// bots/llm client, whose per-call retries apply).
type LLM interface {
	Complete(ctx context.Context, msgs []retrieval.Message) (string, error)
}

// JSONCompleter is an LLM that can be asked for a JSON object (OpenAI's
// response_format json_object). The judge is asked that way when it has
// the method, as the Mem0 evaluation asks its judge; the reply is parsed
// leniently all the same (a JSON "label", else the last CORRECT or WRONG
// of plain text), since many servers ignore response_format.
type JSONCompleter interface {
	CompleteJSON(ctx context.Context, msgs []retrieval.Message) (string, error)
}

// EndToEnd has a backend answer each question from each strategy's context
// and a judge grade the answers.
type EndToEnd struct {
	Backend LLM
	// Judge grades (nil: the backend).
	Judge LLM
	// Window is the backend's context window in tokens: the full-context
	// strategy is not applicable to a conversation that does not fit it
	// (0: no limit).
	Window int
	// Concurrency bounds the questions in flight (default 1).
	Concurrency int
	// SkipJudging are categories not graded (LoCoMo's adversarial category
	// 5, which the Mem0 evaluation leaves out too).
	SkipJudging []string
}

// answerInstruction replaces the question in the last message: the
// backend answers from the context it was given, briefly, with dates
// resolved, as the Mem0 LoCoMo evaluation asks its answerer.
const answerInstruction = `Answer the question below using only the conversation memory above. ` +
	`Turn relative dates ("last year", "next month") into the actual dates, using the dates shown with the turns. ` +
	`Answer in a few words.

Question: %s
Answer:`

// judgePrompt grades an answer by the rules of the LoCoMo evaluation of
// Mem0 (ACCURACY_PROMPT in mem0ai/mem0 evaluation/metrics/llm_judge.py,
// Apache-2.0), which the published LoCoMo "J" scores (Mem0 66.9 %, full
// context 72.9 %) were graded with: generous on topic, generous on date
// formats and relative dates, one short sentence of reasoning, the label
// as JSON {"label": …}. The wording and the example are our own: a
// paraphrase of those rules, not a copy of that text.
const judgePrompt = `You grade answers to memory questions as CORRECT or WRONG.

One person asked the other about something they should remember from their earlier conversations. You get the question, the reference ("gold") answer and a generated answer.

Grade generously. The gold answer is usually a few words that name the fact, for instance:
Question: Which city did I say I was moving to in the spring?
Gold answer: Porto
A generated answer may say much more; it is CORRECT as long as it is about the same thing as the gold answer.

For a question about time, the gold answer is a date, a month, a year or the like. The generated answer is CORRECT when it points to the same date or period, in whatever format ("7 May" and "May 7th" are the same day), and also when it names it relatively ("the Tuesday before", "the next month") as long as that is the same time.

Question: %s
Gold answer: %s
Generated answer: %s

Reason in one short sentence, then give the label. Write only one of the two words CORRECT and WRONG, never both.
Reply with a JSON object whose key "label" holds the label.`

// answer runs the backend and the judge for every strategy of a job's
// records. A full-context reply is shared by all budgets of a question.
func (e *EndToEnd) answer(ctx context.Context, j job) error {
	judge := e.Judge
	if judge == nil {
		judge = e.Backend
	}
	skip := len(j.records) > 0 && slices.Contains(e.SkipJudging, j.records[0].Category)
	type graded struct{ reply, verdict string }
	var full *graded
	for i, rec := range j.records {
		for st, res := range rec.Strategies {
			if res.NotApplicable {
				continue
			}
			if st == StrategyFullContext && full != nil {
				res.Reply, res.Verdict = full.reply, full.verdict
				rec.Strategies[st] = res
				continue
			}
			msgs := slices.Clone(j.contexts[i][st])
			last := &msgs[len(msgs)-1]
			last.Content = fmt.Sprintf(answerInstruction, last.Content)
			reply, err := e.Backend.Complete(ctx, msgs)
			if err != nil {
				return fmt.Errorf("replay: backend, %s on %q: %w", st, rec.Question, err)
			}
			res.Reply = strings.TrimSpace(reply)
			if !skip {
				if res.Verdict, err = grade(ctx, judge, rec.Question, rec.Answer, res.Reply); err != nil {
					return fmt.Errorf("replay: judge, %s on %q: %w", st, rec.Question, err)
				}
			}
			rec.Strategies[st] = res
			if st == StrategyFullContext {
				full = &graded{res.Reply, res.Verdict}
			}
		}
	}
	return nil
}

// grade asks the judge, once more when its output names no label; a reply
// that still names none is WRONG.
func grade(ctx context.Context, judge LLM, question, gold, reply string) (string, error) {
	msgs := []retrieval.Message{{Role: "user", Content: fmt.Sprintf(judgePrompt, question, gold, reply)}}
	complete := judge.Complete
	if j, ok := judge.(JSONCompleter); ok {
		complete = j.CompleteJSON
	}
	for range 2 {
		out, err := complete(ctx, msgs)
		if err != nil {
			return "", err
		}
		if v := parseVerdict(out); v != "" {
			return v, nil
		}
	}
	return VerdictWrong, nil
}

var labelRe = regexp.MustCompile(`\b(CORRECT|WRONG)\b`)

// parseVerdict reads the judge's label: the "label" of a JSON object in
// the output, else the last CORRECT or WRONG in it; "" when neither.
func parseVerdict(out string) string {
	if i, k := strings.Index(out, "{"), strings.LastIndex(out, "}"); i >= 0 && k > i {
		var v struct {
			Label string `json:"label"`
		}
		if json.Unmarshal([]byte(out[i:k+1]), &v) == nil {
			switch strings.ToUpper(strings.TrimSpace(v.Label)) {
			case VerdictCorrect:
				return VerdictCorrect
			case VerdictWrong:
				return VerdictWrong
			}
		}
	}
	m := labelRe.FindAllString(strings.ToUpper(out), -1)
	if len(m) == 0 {
		return ""
	}
	return m[len(m)-1]
}
