package compaction

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/memory"
)

var t0 = time.Date(2023, 5, 8, 13, 0, 0, 0, time.UTC)

// turnsAt builds turns: each spec is "seq@minutes:tokens".
type tspec struct {
	seq    int64
	minute int
	tokens int
}

func mkTurns(specs ...tspec) []memory.Turn {
	out := make([]memory.Turn, len(specs))
	for i, s := range specs {
		out[i] = memory.Turn{Seq: s.seq, Role: memory.RoleUser, Content: fmt.Sprintf("turn %d", s.seq),
			CreatedAt: t0.Add(time.Duration(s.minute) * time.Minute), Tokens: s.tokens}
	}
	return out
}

// run builds n turns one minute apart with the given tokens each.
func run(from int64, n, minute, tokens int) []tspec {
	out := make([]tspec, n)
	for i := range out {
		out[i] = tspec{from + int64(i), minute + i, tokens}
	}
	return out
}

func cat(parts ...[]tspec) []tspec {
	var out []tspec
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func sum(level int, from, to int64, tokens int, stale bool) memory.Summary {
	return memory.Summary{Level: level, FromSeq: from, ToSeq: to, Tokens: tokens, Stale: stale, Content: "s",
		FromTime: t0.Add(time.Duration(from) * time.Minute), ToTime: t0.Add(time.Duration(to) * time.Minute)}
}

// describe renders jobs compactly: "fold L0 1-5 (5)" where (n) counts turns
// or children.
func describe(jobs []Job) []string {
	out := []string{}
	for _, j := range jobs {
		n := len(j.Turns)
		if j.Level > 0 {
			n = len(j.Children)
		}
		out = append(out, fmt.Sprintf("%s L%d %d-%d (%d)", j.Kind, j.Level, j.FromSeq, j.ToSeq, n))
	}
	return out
}

var planCfg = Config{KeepRecentTurns: 2, ChunkTokens: 100, MinChunkTokens: 10, SessionGap: time.Hour,
	QuietAfter: time.Hour, FlushAfter: time.Hour, LevelTokens: 100, LevelFanIn: 3}

// TestPlanQuiet covers the two idle timers: QuietAfter folds an open chunk
// big enough to stand alone, FlushAfter folds any, and a sliver joins the
// chunk folded before it in the same plan.
func TestPlanQuiet(t *testing.T) {
	cfg := Config{KeepRecentTurns: 2, ChunkTokens: 100, MinChunkTokens: 20, SessionGap: time.Hour,
		QuietAfter: time.Minute, FlushAfter: time.Hour}
	tests := []struct {
		name      string
		turns     []tspec
		now       time.Duration // after t0
		want      []string
		open      int
		openUntil time.Duration // after the newest turn; 0 when nothing is open
	}{
		{name: "a paused conversation folds a chunk that stands alone", turns: run(1, 12, 0, 5), now: 13 * time.Minute,
			want: []string{"fold L0 1-10 (10)"}},
		{name: "still talking: the chunk waits for the pause", turns: run(1, 12, 0, 5), now: 11*time.Minute + 30*time.Second,
			want: []string{}, open: 10, openUntil: time.Minute},
		{name: "a sliver waits for FlushAfter", turns: run(1, 5, 0, 5), now: 6 * time.Minute,
			want: []string{}, open: 3, openUntil: time.Hour},
		{name: "a sliver is folded after FlushAfter", turns: run(1, 5, 0, 5), now: 4*time.Minute + time.Hour,
			want: []string{"fold L0 1-3 (3)"}},
		{name: "a sliver joins the chunk before it", turns: run(1, 25, 0, 5), now: 26 * time.Minute,
			want: []string{"fold L0 1-23 (23)"}},
		{name: "a sliver does not join when not quiet", turns: run(1, 25, 0, 5), now: 24*time.Minute + time.Second,
			want: []string{"fold L0 1-20 (20)"}, open: 3, openUntil: time.Hour},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			turns := mkTurns(tc.turns...)
			got := Plan(cfg, PlanInput{Turns: turns, Now: t0.Add(tc.now)})
			require.Equal(t, tc.want, describe(got.Jobs))
			require.Equal(t, tc.open, got.Open, "open")
			if tc.open == 0 {
				require.True(t, got.OpenUntil.IsZero())
				return
			}
			require.Equal(t, turns[len(turns)-1].CreatedAt.Add(tc.openUntil), got.OpenUntil)
		})
	}
}

func TestPlan(t *testing.T) {
	tests := []struct {
		name      string
		turns     []tspec
		summaries []memory.Summary
		now       time.Duration // after t0; 0 means zero time
		flush     bool
		want      []string
		lag, open int
	}{
		{name: "nothing older than the window", turns: run(1, 2, 0, 10), want: []string{}},
		{name: "open chunk waits", turns: run(1, 12, 0, 5), want: []string{}, lag: 10, open: 10},
		{name: "flush folds the open chunk", turns: run(1, 12, 0, 5), flush: true,
			want: []string{"fold L0 1-10 (10)"}, lag: 10},
		{name: "a quiet conversation folds the open chunk", turns: run(1, 12, 0, 5), now: 11*time.Minute + time.Hour,
			want: []string{"fold L0 1-10 (10)"}, lag: 10},
		{name: "not quiet yet", turns: run(1, 12, 0, 5), now: 11*time.Minute + time.Hour - time.Second,
			want: []string{}, lag: 10, open: 10},
		{name: "a session gap ends a chunk", turns: cat(run(1, 5, 0, 5), run(6, 7, 120, 5)),
			want: []string{"fold L0 1-5 (5)"}, lag: 10, open: 5},
		{name: "a gap does not end a chunk under MinChunkTokens", turns: cat(run(1, 1, 0, 5), run(2, 11, 120, 5)),
			want: []string{}, lag: 10, open: 10},
		{name: "the size ends a chunk before the turn that overflows it", turns: run(1, 7, 0, 40),
			want: []string{"fold L0 1-2 (2)", "fold L0 3-4 (2)"}, lag: 5, open: 1},
		{name: "a recent turn that would overflow closes the last chunk", turns: cat(run(1, 4, 0, 30), run(5, 2, 4, 80)),
			want: []string{"fold L0 1-3 (3)", "fold L0 4-4 (1)"}, lag: 4},
		{name: "a gap before the first recent turn closes the last chunk", turns: cat(run(1, 4, 0, 5), run(5, 2, 300, 5)),
			want: []string{"fold L0 1-4 (4)"}, lag: 4},
		{name: "a single turn over the size is a chunk", turns: cat(run(1, 1, 0, 500), run(2, 3, 1, 5)),
			want: []string{"fold L0 1-1 (1)"}, lag: 2, open: 1},
		{name: "folds continue the level-0 chain across forgotten seqs",
			turns:     cat(run(8, 5, 8, 5), run(13, 3, 200, 5)),
			summaries: []memory.Summary{sum(0, 1, 5, 10, false)},
			want:      []string{"fold L0 6-12 (5)"}, lag: 6, open: 1},
		{name: "turns already covered are not folded again",
			turns:     run(1, 12, 0, 5),
			summaries: []memory.Summary{sum(0, 1, 10, 10, false)},
			want:      []string{}},
		{name: "stale level 0 is rebuilt from its remaining turns",
			turns:     cat(run(1, 2, 0, 5), run(4, 3, 3, 5)),
			summaries: []memory.Summary{sum(0, 1, 4, 10, true)},
			want:      []string{"rebuild L0 1-4 (3)"}},
		{name: "stale level 0 with every turn forgotten",
			turns:     run(5, 2, 5, 5),
			summaries: []memory.Summary{sum(0, 1, 4, 10, true)},
			want:      []string{"rebuild L0 1-4 (0)"}},
		{name: "a stale parent waits for its stale child",
			turns: run(1, 12, 0, 5),
			summaries: []memory.Summary{sum(0, 1, 4, 10, true), sum(0, 5, 8, 10, false), sum(0, 9, 10, 10, false),
				sum(1, 1, 8, 20, true)},
			want: []string{"rebuild L0 1-4 (4)"}},
		{name: "a stale parent over fresh children is rebuilt from them",
			turns: run(1, 12, 0, 5),
			summaries: []memory.Summary{sum(0, 1, 4, 10, false), sum(0, 5, 8, 10, false), sum(0, 9, 10, 10, false),
				sum(1, 1, 8, 20, true)},
			want: []string{"rebuild L1 1-8 (2)"}},
		{name: "level 1 folds the oldest, up to the fan-in, leaving the newest",
			turns: run(1, 32, 0, 5),
			summaries: []memory.Summary{sum(0, 1, 5, 50, false), sum(0, 6, 10, 50, false), sum(0, 11, 15, 50, false),
				sum(0, 16, 20, 50, false), sum(0, 21, 25, 50, false), sum(0, 26, 30, 50, false)},
			want: []string{"fold L1 1-15 (3)", "fold L1 16-25 (2)"}},
		{name: "level 1 waits until its level outgrows LevelTokens",
			turns:     run(1, 12, 0, 5),
			summaries: []memory.Summary{sum(0, 1, 5, 50, false), sum(0, 6, 10, 50, false)},
			want:      []string{}},
		{name: "a fold never takes the newest alone",
			turns:     run(1, 12, 0, 5),
			summaries: []memory.Summary{sum(0, 1, 5, 50, false), sum(0, 6, 10, 51, false)},
			want:      []string{}},
		{name: "folds stop at a stale summary, which is rebuilt first",
			turns: run(1, 27, 0, 5),
			summaries: []memory.Summary{sum(0, 1, 5, 60, false), sum(0, 6, 10, 60, false), sum(0, 11, 15, 60, false),
				sum(0, 16, 20, 60, true), sum(0, 21, 25, 60, false)},
			want: []string{"rebuild L0 16-20 (5)", "fold L1 1-10 (2)"}},
		{name: "level 2 over level 1, after the level-2 chain",
			turns: run(101, 2, 100, 5),
			summaries: []memory.Summary{
				sum(0, 1, 20, 40, false), sum(0, 21, 40, 40, false), sum(0, 41, 60, 40, false), sum(0, 61, 80, 40, false), sum(0, 81, 100, 40, false),
				sum(1, 1, 20, 60, false), sum(1, 21, 40, 60, false), sum(1, 41, 60, 60, false), sum(1, 61, 80, 60, false),
				sum(2, 1, 20, 60, false)},
			want: []string{"fold L2 21-60 (2)"}},
		{name: "rebuilds, then level 0, then level 1",
			turns: cat(run(1, 20, 0, 5), run(21, 5, 300, 5)),
			summaries: []memory.Summary{sum(0, 1, 3, 60, false), sum(0, 4, 6, 60, false), sum(0, 7, 9, 60, false),
				sum(0, 10, 12, 60, true), sum(0, 13, 15, 60, false)},
			want: []string{"rebuild L0 10-12 (3)", "fold L0 16-20 (5)", "fold L1 1-6 (2)"}, lag: 8, open: 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := PlanInput{Turns: mkTurns(tc.turns...), Summaries: tc.summaries, Flush: tc.flush}
			if tc.now != 0 {
				in.Now = t0.Add(tc.now)
			}
			got := Plan(planCfg, in)
			require.Equal(t, tc.want, describe(got.Jobs))
			require.Equal(t, tc.lag, got.Lag, "lag")
			require.Equal(t, tc.open, got.Open, "open")
			require.Equal(t, got.Open > 0, !got.OpenUntil.IsZero())
		})
	}
}

func TestPlanFoldedTurnsAndTimes(t *testing.T) {
	turns := mkTurns(cat(run(1, 5, 0, 5), run(6, 7, 120, 5))...)
	p := Plan(planCfg, PlanInput{Turns: turns, Flush: true})
	require.Len(t, p.Jobs, 2)
	j := p.Jobs[0]
	require.Equal(t, turns[:5], j.Turns)
	require.Equal(t, turns[0].CreatedAt, j.FromTime)
	require.Equal(t, turns[4].CreatedAt, j.ToTime)
	require.Equal(t, int64(6), p.Jobs[1].FromSeq)
	require.Equal(t, int64(10), p.Jobs[1].ToSeq, "the last two turns are the recent window")
}

func TestPlanLevelFoldCarriesChildren(t *testing.T) {
	s := []memory.Summary{sum(0, 1, 5, 60, false), sum(0, 6, 10, 60, false), sum(0, 11, 15, 60, false)}
	p := Plan(planCfg, PlanInput{Turns: run2mk(16, 2), Summaries: s})
	require.Len(t, p.Jobs, 1)
	require.Equal(t, s[:2], p.Jobs[0].Children)
	require.Equal(t, s[0].FromTime, p.Jobs[0].FromTime)
	require.Equal(t, s[1].ToTime, p.Jobs[0].ToTime)
}

func run2mk(from int64, n int) []memory.Turn { return mkTurns(run(from, n, int(from), 5)...) }

func TestPlanIgnoresSummaryOrder(t *testing.T) {
	s := []memory.Summary{sum(0, 1, 3, 60, false), sum(0, 4, 6, 60, true), sum(0, 7, 9, 60, false),
		sum(0, 10, 12, 60, false), sum(0, 13, 15, 60, false), sum(1, 1, 3, 10, false)}
	turns := mkTurns(cat(run(1, 20, 0, 5), run(21, 5, 300, 5))...)
	want := Plan(planCfg, PlanInput{Turns: turns, Summaries: s})
	r := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		shuffled := append([]memory.Summary(nil), s...)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		require.Equal(t, want, Plan(planCfg, PlanInput{Turns: turns, Summaries: shuffled}))
	}
}

func TestReadFrom(t *testing.T) {
	require.EqualValues(t, 0, ReadFrom(nil))
	require.EqualValues(t, 10, ReadFrom([]memory.Summary{sum(0, 1, 5, 1, false), sum(0, 6, 10, 1, false), sum(1, 1, 10, 1, true)}))
	require.EqualValues(t, 5, ReadFrom([]memory.Summary{sum(0, 1, 5, 1, false), sum(0, 6, 10, 1, true)}))
}

func TestConfigValidate(t *testing.T) {
	require.NoError(t, Config{}.Validate())
	require.Error(t, Config{KeepRecentTurns: -1}.Validate())
	require.Error(t, Config{SessionGap: -time.Second}.Validate())
	require.Error(t, Config{LevelFanIn: 1}.Validate())
	require.Error(t, Config{ChunkTokens: 50}.Validate(), "min chunk (default 100) above chunk")
	require.Error(t, Config{BackoffMin: time.Hour}.Validate())
}
