package replay

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/retrieval"
)

func TestParseVerdict(t *testing.T) {
	for _, tc := range []struct{ out, want string }{
		{`{"label": "CORRECT"}`, VerdictCorrect},
		{`{"label":"wrong"}`, VerdictWrong},
		{"```json\n{\"reasoning\": \"it is CORRECT that…\", \"label\": \"WRONG\"}\n```", VerdictWrong},
		{"Both name the same city. CORRECT", VerdictCorrect},
		{"The gold answer is Porto, not Lisbon, so this is wrong: WRONG.", VerdictWrong},
		{"I first thought CORRECT, but the date differs: WRONG", VerdictWrong},
		{`{"label": "maybe"} then CORRECT`, VerdictCorrect},
		{"INCORRECTLY answered", ""},
		{"no idea", ""},
	} {
		require.Equal(t, tc.want, parseVerdict(tc.out), tc.out)
	}
}

// scriptedJudge replies from a script, recording which method was called.
type scriptedJudge struct {
	replies   []string
	plain     int
	jsonCalls int
	prompt    string
}

func (s *scriptedJudge) next(msgs []retrieval.Message) string {
	s.prompt = msgs[len(msgs)-1].Content
	r := s.replies[0]
	s.replies = s.replies[1:]
	return r
}

func (s *scriptedJudge) Complete(_ context.Context, msgs []retrieval.Message) (string, error) {
	s.plain++
	return s.next(msgs), nil
}

// jsonJudge is a scriptedJudge with JSON mode.
type jsonJudge struct{ *scriptedJudge }

func (j jsonJudge) CompleteJSON(_ context.Context, msgs []retrieval.Message) (string, error) {
	j.jsonCalls++
	return j.next(msgs), nil
}

func TestGrade(t *testing.T) {
	ctx := context.Background()
	// A judge with JSON mode is asked in JSON mode.
	j := jsonJudge{&scriptedJudge{replies: []string{`{"label":"CORRECT"}`}}}
	v, err := grade(ctx, j, "Which city?", "Porto", "She moved to Porto.")
	require.NoError(t, err)
	require.Equal(t, VerdictCorrect, v)
	require.Equal(t, 1, j.jsonCalls)
	require.Zero(t, j.plain)
	require.Contains(t, j.prompt, "Question: Which city?\nGold answer: Porto\nGenerated answer: She moved to Porto.")
	require.Contains(t, j.prompt, `JSON object whose key "label"`, "JSON mode needs the prompt to ask for JSON")

	// A plain judge: plain text, asked once more when it names no label.
	p := &scriptedJudge{replies: []string{"Hard to say.", "On reflection: WRONG"}}
	v, err = grade(ctx, p, "q", "a", "b")
	require.NoError(t, err)
	require.Equal(t, VerdictWrong, v)
	require.Equal(t, 2, p.plain)

	// Twice no label: WRONG.
	p = &scriptedJudge{replies: []string{"Hmm.", "Hmm."}}
	v, err = grade(ctx, p, "q", "a", "b")
	require.NoError(t, err)
	require.Equal(t, VerdictWrong, v)
	require.False(t, strings.Contains(judgePrompt, "Hawaii"), "our own example, not the original's")
}
