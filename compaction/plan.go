package compaction

import (
	"cmp"
	"slices"
	"time"

	"github.com/longmem/longmem/memory"
)

// JobKind says whether a job adds a summary or rewrites a stale one.
type JobKind int

// The kinds of job.
const (
	// Fold appends a new summary to the end of its level's chain
	// (memory.SummaryStore.AddSummary).
	Fold JobKind = iota
	// Rebuild rewrites a stale summary over the same range without the
	// forgotten turns (memory.SummaryStore.ReplaceSummary).
	Rebuild
)

func (k JobKind) String() string {
	if k == Rebuild {
		return "rebuild"
	}
	return "fold"
}

// Job is one summary to write: its level, its turn range FromSeq..ToSeq
// (inclusive) and what it summarises.
type Job struct {
	Kind    JobKind
	Level   int
	FromSeq int64
	ToSeq   int64
	// FromTime and ToTime are the created_at of the first and last turn
	// covered (for a rebuild left with no turns, the old summary's).
	FromTime time.Time
	ToTime   time.Time
	// Turns are the turns of a level-0 job, ascending by seq (empty for a
	// rebuild whose every turn was forgotten).
	Turns []memory.Turn
	// Children are the level-(Level-1) summaries of a level ≥ 1 job,
	// ascending, tiling FromSeq..ToSeq.
	Children []memory.Summary
}

// PlanInput is everything Plan looks at.
type PlanInput struct {
	// Turns are the conversation's turns with seq > ReadFrom(Summaries),
	// ascending by seq, with Tokens counted (the worker counts turns stored
	// with 0).
	Turns []memory.Turn
	// Summaries are all of the conversation's summaries, in any order.
	Summaries []memory.Summary
	// Now is the clock's time, for FlushAfter. Zero never flushes by age.
	Now time.Time
	// Flush folds the last old chunk even when it is still open.
	Flush bool
}

// PlanResult is what Plan decided.
type PlanResult struct {
	// Jobs to run in order: rebuilds (lowest level first, then by FromSeq),
	// then level-0 folds, then level-1 folds, and so on, each level in
	// chain order. A job's inputs exist before the plan runs: a level-(k+1)
	// summary over level-k summaries written by this plan needs another
	// Plan after it (the worker plans until there is nothing to do).
	Jobs []Job
	// Lag is the number of turns older than the recent window not covered
	// at level 0 when planned (before Jobs run).
	Lag int
	// Open is how many of those turns the plan leaves for later because
	// their chunk is still open (no gap after it, not full, not quiet).
	Open int
	// OpenUntil is when the open chunk is folded at the latest (its
	// conversation's newest turn plus FlushAfter); zero when Open is 0.
	OpenUntil time.Time
}

// maxLevels bounds the hierarchy; with fan-in ≥ 2 it is never reached.
const maxLevels = 32

// ReadFrom returns the seq after which Plan needs the conversation's turns:
// the end of the level-0 chain, or before the first stale level-0 summary
// when that is earlier.
func ReadFrom(summaries []memory.Summary) int64 {
	chains := chainsOf(summaries)
	if len(chains) == 0 {
		return 0
	}
	from := chainEnd(chains[0])
	for _, s := range chains[0] {
		if s.Stale {
			from = min(from, s.FromSeq-1)
			break
		}
	}
	return from
}

// Plan decides which summaries to write next. Pure and deterministic.
//
// Level 0: the turns older than the recent window (all but the last
// KeepRecentTurns) and after the level-0 chain's end are cut into chunks
// of consecutive turns; a chunk ends at a session gap (unless smaller than
// MinChunkTokens) or before the turn that would take it past ChunkTokens.
// The last chunk is folded only when closed: by a gap or the size limit,
// reckoned against the turn after it even when that turn is recent, or
// because the conversation went quiet (its newest turn is QuietAfter old
// and the chunk holds at least MinChunkTokens, or FlushAfter old), or
// because in.Flush is set. A last chunk smaller than MinChunkTokens that
// closes joins the chunk before it when that one is folded by the same
// plan, so a bulk import leaves no sliver.
//
// Level k+1: when the level-k summaries after the level-(k+1) chain's end
// total more than LevelTokens, the oldest are folded, up to LevelFanIn at a
// time and at least two, always leaving the newest one unfolded.
//
// Stale summaries are rebuilt, lowest level first; a level ≥ 1 rebuild
// waits until its children are fresh, and no fold takes a stale summary.
func Plan(cfg Config, in PlanInput) PlanResult {
	cfg = cfg.withDefaults()
	chains := chainsOf(in.Summaries)
	var res PlanResult
	res.Jobs = rebuildJobs(chains, in.Turns)

	var level0 []memory.Summary
	if len(chains) > 0 {
		level0 = chains[0]
	}
	folds, lag, open, openUntil := foldTurns(cfg, chainEnd(level0), in)
	res.Jobs = append(res.Jobs, folds...)
	res.Lag, res.Open, res.OpenUntil = lag, open, openUntil

	for k := 0; k < len(chains) && k+1 < maxLevels; k++ {
		var upper []memory.Summary
		if k+1 < len(chains) {
			upper = chains[k+1]
		}
		res.Jobs = append(res.Jobs, foldSummaries(cfg, k, chains[k], chainEnd(upper))...)
	}
	return res
}

// chainsOf groups summaries by level (index = level) and keeps, at each
// level, the gapless chain that starts at seq 1, ascending. Anything after
// a break in a chain is ignored (the store never writes one).
func chainsOf(summaries []memory.Summary) [][]memory.Summary {
	sorted := slices.Clone(summaries)
	slices.SortStableFunc(sorted, func(a, b memory.Summary) int {
		return cmp.Or(cmp.Compare(a.Level, b.Level), cmp.Compare(a.FromSeq, b.FromSeq))
	})
	var chains [][]memory.Summary
	for _, s := range sorted {
		if s.Level < 0 || s.Level >= maxLevels {
			continue
		}
		for len(chains) <= s.Level {
			chains = append(chains, nil)
		}
		c := chains[s.Level]
		if s.FromSeq == chainEnd(c)+1 && s.ToSeq >= s.FromSeq {
			chains[s.Level] = append(c, s)
		}
	}
	for len(chains) > 0 && len(chains[len(chains)-1]) == 0 {
		chains = chains[:len(chains)-1]
	}
	return chains
}

// chainEnd is the ToSeq of a chain's last summary, 0 for an empty chain.
func chainEnd(chain []memory.Summary) int64 {
	if len(chain) == 0 {
		return 0
	}
	return chain[len(chain)-1].ToSeq
}

// rebuildJobs plans a rebuild for every stale summary whose inputs are
// fresh: level 0 from its remaining turns, level k from its children.
func rebuildJobs(chains [][]memory.Summary, turns []memory.Turn) []Job {
	var jobs []Job
	for k, chain := range chains {
		for _, s := range chain {
			if !s.Stale {
				continue
			}
			j := Job{Kind: Rebuild, Level: k, FromSeq: s.FromSeq, ToSeq: s.ToSeq, FromTime: s.FromTime, ToTime: s.ToTime}
			if k == 0 {
				j.Turns = turnsIn(turns, s.FromSeq, s.ToSeq)
				if len(j.Turns) > 0 {
					j.FromTime, j.ToTime = j.Turns[0].CreatedAt, j.Turns[len(j.Turns)-1].CreatedAt
				}
			} else {
				kids, ok := tiling(chains[k-1], s.FromSeq, s.ToSeq)
				if !ok {
					continue // children stale or missing: a later plan
				}
				j.Children = kids
				j.FromTime, j.ToTime = kids[0].FromTime, kids[len(kids)-1].ToTime
			}
			jobs = append(jobs, j)
		}
	}
	return jobs
}

// turnsIn returns the turns with from <= seq <= to (turns ascending).
func turnsIn(turns []memory.Turn, from, to int64) []memory.Turn {
	lo, _ := slices.BinarySearchFunc(turns, from, func(t memory.Turn, s int64) int { return cmp.Compare(t.Seq, s) })
	hi, _ := slices.BinarySearchFunc(turns, to+1, func(t memory.Turn, s int64) int { return cmp.Compare(t.Seq, s) })
	return slices.Clone(turns[lo:hi])
}

// tiling returns the fresh summaries of chain that exactly tile from..to.
func tiling(chain []memory.Summary, from, to int64) ([]memory.Summary, bool) {
	var out []memory.Summary
	next := from
	for _, s := range chain {
		if s.ToSeq < from || s.FromSeq > to {
			continue
		}
		if s.FromSeq != next || s.ToSeq > to || s.Stale {
			return nil, false
		}
		out = append(out, s)
		next = s.ToSeq + 1
	}
	return out, next == to+1 && len(out) > 0
}

// foldTurns plans the level-0 folds after end0 and measures the lag.
func foldTurns(cfg Config, end0 int64, in PlanInput) (jobs []Job, lag, open int, openUntil time.Time) {
	i, _ := slices.BinarySearchFunc(in.Turns, end0+1, func(t memory.Turn, s int64) int { return cmp.Compare(t.Seq, s) })
	after := in.Turns[i:]
	nOld := len(after) - cfg.KeepRecentTurns
	if nOld <= 0 {
		return nil, 0, 0, time.Time{}
	}
	old := after[:nOld]
	newest := after[len(after)-1]
	idle := time.Duration(-1)
	if !in.Now.IsZero() {
		idle = in.Now.Sub(newest.CreatedAt)
	}
	from := end0 + 1
	start, tokens := 0, 0
	for j, t := range old {
		tokens += t.Tokens
		next := after[j+1] // exists: the recent window is not empty
		full := tokens+next.Tokens > cfg.ChunkTokens
		gap := next.CreatedAt.Sub(t.CreatedAt) >= cfg.SessionGap && tokens >= cfg.MinChunkTokens
		last := j == len(old)-1
		small := tokens < cfg.MinChunkTokens
		// The last chunk closes when the conversation went quiet: after
		// QuietAfter when it is big enough to summarise on its own, or when
		// the chunk before it is folded in this same plan (it joins that
		// one); after FlushAfter in any case.
		quiet := idle >= cfg.FlushAfter || (idle >= cfg.QuietAfter && (!small || len(jobs) > 0))
		if !full && !gap && !(last && (quiet || in.Flush)) {
			continue
		}
		chunk := old[start : j+1]
		if last && small && !full && !gap && len(jobs) > 0 && jobs[len(jobs)-1].ToSeq+1 == from {
			// A tail too small to summarise alone joins the chunk before
			// it, which ends up at most MinChunkTokens over ChunkTokens.
			prev := &jobs[len(jobs)-1]
			prev.ToSeq, prev.ToTime = t.Seq, t.CreatedAt
			prev.Turns = append(prev.Turns, chunk...)
			from, start, tokens = t.Seq+1, j+1, 0
			continue
		}
		jobs = append(jobs, Job{Kind: Fold, Level: 0, FromSeq: from, ToSeq: t.Seq,
			FromTime: chunk[0].CreatedAt, ToTime: t.CreatedAt, Turns: slices.Clone(chunk)})
		from, start, tokens = t.Seq+1, j+1, 0
	}
	if start < len(old) {
		open = len(old) - start
		openUntil = newest.CreatedAt.Add(cfg.FlushAfter)
		if tokens >= cfg.MinChunkTokens {
			openUntil = newest.CreatedAt.Add(cfg.QuietAfter)
		}
	}
	return jobs, nOld, open, openUntil
}

// foldSummaries plans level-(k+1) folds of the level-k chain after endUp.
func foldSummaries(cfg Config, k int, chain []memory.Summary, endUp int64) []Job {
	i := slices.IndexFunc(chain, func(s memory.Summary) bool { return s.FromSeq == endUp+1 })
	if i < 0 {
		return nil
	}
	pending := chain[i:]
	if j := slices.IndexFunc(pending, func(s memory.Summary) bool { return s.Stale }); j >= 0 {
		pending = pending[:j]
	}
	total := 0
	for _, s := range pending {
		total += s.Tokens
	}
	var jobs []Job
	for total > cfg.LevelTokens {
		n := min(cfg.LevelFanIn, len(pending)-1)
		if n < 2 {
			break
		}
		kids := slices.Clone(pending[:n])
		jobs = append(jobs, Job{Kind: Fold, Level: k + 1, FromSeq: kids[0].FromSeq, ToSeq: kids[n-1].ToSeq,
			FromTime: kids[0].FromTime, ToTime: kids[n-1].ToTime, Children: kids})
		for _, s := range kids {
			total -= s.Tokens
		}
		pending = pending[n:]
	}
	return jobs
}
