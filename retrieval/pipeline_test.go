package retrieval

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/memory"
	"github.com/longmem/longmem/memory/embedded"
)

// stageRig is an Assembler over a real embedded store, for the stages that
// read no index (the index is the contract suites' and assemble_test's).
func stageRig(t *testing.T, turns int) (*Assembler, *embedded.Store) {
	t.Helper()
	st, err := embedded.Open(embedded.Config{Dir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	tok, err := NewTokenizer(TokenizerConfig{})
	require.NoError(t, err)
	ctx := context.Background()
	_, err = st.CreateConversation(ctx, memory.Conversation{ID: "c"})
	require.NoError(t, err)
	var batch []memory.Turn
	for i := range turns {
		text := fmt.Sprintf("turn number %d about the allotment and the tomatoes", i+1)
		batch = append(batch, memory.Turn{Role: memory.RoleUser, Content: text, Tokens: tok.Count(text),
			CreatedAt: time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute)})
	}
	if len(batch) > 0 {
		_, err = st.AppendTurns(ctx, "", "c", batch, memory.AppendOptions{})
		require.NoError(t, err)
	}
	ix := NewIndexer(st, nil, NewAnalyzer(AnalyzerConfig{}), tok, nil)
	return NewAssembler(AssemblerConfig{}, st, ix, tok), st
}

func TestStageBudget(t *testing.T) {
	a, _ := stageRig(t, 0)
	msg := Message{Content: "how are the seedlings doing?"}
	msgCost := a.tok.Count(msg.Content) + 4
	for _, tc := range []struct {
		name     string
		req      Request
		field    string // the invalid field, "" for success
		notFound bool
	}{
		{"fits", Request{ConversationID: "c", Message: msg, BudgetTokens: 100}, "", false},
		{"zero budget", Request{ConversationID: "c", Message: msg, BudgetTokens: 0}, "budget_tokens", false},
		{"empty message", Request{ConversationID: "c", Message: Message{}, BudgetTokens: 100}, "message.content", false},
		{"bad role", Request{ConversationID: "c", Message: Message{Role: "narrator", Content: "x"}, BudgetTokens: 100}, "message.role", false},
		{"message too big", Request{ConversationID: "c", Message: msg, BudgetTokens: msgCost - 1}, "budget_tokens", false},
		{"no conversation", Request{ConversationID: "nope", Message: msg, BudgetTokens: 100}, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := a.budget(context.Background(), tc.req)
			switch {
			case tc.notFound:
				require.ErrorIs(t, err, memory.ErrNotFound)
			case tc.field != "":
				var inv *memory.InvalidError
				require.True(t, errors.As(err, &inv), "%v", err)
				require.Equal(t, tc.field, inv.Field)
			default:
				require.NoError(t, err)
				require.Equal(t, msgCost, s.msgCost)
				require.Equal(t, 100-msgCost, s.free)
				require.Equal(t, "user", s.req.Message.Role)
			}
		})
	}
}

func TestStagePersona(t *testing.T) {
	a, _ := stageRig(t, 0)
	for _, tc := range []struct {
		name, persona, post string
		free                int
		wantErr             bool
		sections            int
	}{
		{"none", "", "", 1000, false, 0},
		{"persona", "You are Ada, a patient gardener.", "", 1000, false, 1},
		{"post only", "", "Answer briefly.", 1000, false, 0},
		{"over its share", "You are Ada, a patient gardener.", "Answer briefly.", 20, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &assembly{req: Request{Persona: tc.persona, PostHistory: tc.post, BudgetTokens: tc.free},
				policy: BudgetPolicy{}.withDefaults(), overhead: 4, free: tc.free}
			err := a.persona(context.Background(), s)
			if tc.wantErr {
				require.ErrorIs(t, err, memory.ErrInvalid)
				return
			}
			require.NoError(t, err)
			require.Len(t, s.sys.sections, tc.sections)
			spent := s.personaCost + s.postCost + s.split
			require.Equal(t, tc.free-spent, s.free, "free tokens lose exactly what the persona stage spent")
			if tc.persona != "" {
				require.Equal(t, a.tok.Count(tc.persona)+4, s.personaCost)
				require.Positive(t, s.split, "the cache layout reserves its second system message")
			}
		})
	}
}

func TestStageRecentWindow(t *testing.T) {
	a, _ := stageRig(t, 50)
	for _, tc := range []struct {
		name              string
		req               Request
		wantLast          int64 // seq of the newest turn kept
		wantRecent, nLast int
	}{
		{"whole window", Request{ConversationID: "c"}, 50, 40, 40},
		{"before seq", Request{ConversationID: "c", BeforeSeq: 31}, 30, 30, 30},
		{"exclude recent", Request{ConversationID: "c", ExcludeRecent: true}, 50, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &assembly{req: tc.req, policy: BudgetPolicy{}.withDefaults()}
			s.conv, _ = a.store.GetConversation(context.Background(), "", "c")
			require.NoError(t, a.recentWindow(context.Background(), s))
			require.Equal(t, tc.wantLast, s.lastSeq)
			require.Len(t, s.recent, tc.wantRecent)
			require.Len(t, s.last, tc.nLast)
			if len(s.recent) > 0 {
				require.Equal(t, tc.wantLast, s.recent[len(s.recent)-1].Seq)
			}
		})
	}
}

func TestStageSpillOver(t *testing.T) {
	a, st := stageRig(t, 20)
	turns, err := st.Turns(context.Background(), "", "c", 0, 0)
	require.NoError(t, err)
	cost := a.turnMessageCost(turns[0], 4)
	for _, tc := range []struct {
		name      string
		recentIn  int   // turns of the window already in
		free      int   // tokens free before the window
		recalled  int64 // newest recalled seq (0: none)
		wantAfter int
	}{
		{"room for all", 5, 20 * cost, 0, 20},
		{"room for two more", 5, 7 * cost, 0, 7},
		{"stops at the newest recalled turn", 5, 20 * cost, 12, 8},
		{"no room", 5, 5 * cost, 0, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a.cfg.RecentBlock = 1
			s := &assembly{overhead: 4, free: tc.free, recent: turns, recentIn: turns[len(turns)-tc.recentIn:]}
			if tc.recalled > 0 {
				s.recalled = []Doc{{Seq: tc.recalled}}
			}
			a.spillOver(s)
			require.Len(t, s.recentIn, tc.wantAfter)
		})
	}
}

func TestStageReport(t *testing.T) {
	a, _ := stageRig(t, 0)
	s := &assembly{req: Request{BudgetTokens: 30}}
	s.rep.Sections = []SectionReport{{Name: SectionPersona, Tokens: 10}, {Name: SectionMessage, Tokens: 15}}
	require.NoError(t, a.report(s))
	require.Equal(t, 25, s.rep.UsedTokens)
	require.NotNil(t, s.rep.Turns)
	require.NotNil(t, s.rep.Dropped)
	require.NotNil(t, s.rep.Summaries)

	over := &assembly{req: Request{BudgetTokens: 20}}
	over.rep.Sections = []SectionReport{{Name: SectionMessage, Tokens: 21}}
	require.Error(t, a.report(over), "a context over its budget is never returned")
}
