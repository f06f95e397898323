package retrieval

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"
)

// Sessions. A long conversation is a sequence of sittings: the user talks
// for a while, goes away, comes back. What a question needs usually sits in
// one sitting about the same thing, so recall scores sittings as wholes and
// lets that score lift the turns inside them (two-stage retrieval: find the
// sessions, then the turns).
//
// A session boundary is derived from the turns' times alone: a pause far
// longer than this conversation's usual pace between two consecutive turns,
// or time going back (an imported or merged history). The pace is the
// median gap between consecutive turns, so a chat typed in seconds splits at
// half-hour pauses while a diary written twice a day splits only when it
// stops for many days.

const (
	// sessionMinGap is the shortest pause that can end a session.
	sessionMinGap = 30 * time.Minute
	// sessionPaceFactor: a pause longer than this many median gaps ends a
	// session.
	sessionPaceFactor = 8
	// sessionPaceSample is how many of the newest gaps the pace is the
	// median of.
	sessionPaceSample = 4096
)

// SessionStarts returns the first seq of each session of a conversation
// whose turns, in seq order, have the given seqs and times (unix seconds).
// It is pure: the result depends only on its input.
func SessionStarts(seqs []int64, at []int64) []int64 {
	if len(seqs) == 0 {
		return nil
	}
	limit := int64(sessionMinGap / time.Second)
	if n := len(at) - 1; n > 0 {
		k := min(n, sessionPaceSample)
		gaps := make([]int64, 0, k)
		for i := len(at) - k; i < len(at); i++ {
			if g := at[i] - at[i-1]; g >= 0 {
				gaps = append(gaps, g)
			}
		}
		if len(gaps) > 0 {
			slices.Sort(gaps)
			limit = max(limit, sessionPaceFactor*gaps[len(gaps)/2])
		}
	}
	starts := []int64{seqs[0]}
	for i := 1; i < len(seqs); i++ {
		if g := at[i] - at[i-1]; g < 0 || g > limit {
			starts = append(starts, seqs[i])
		}
	}
	return starts
}

// sessionOf returns the index in starts of the session holding seq.
func sessionOf(starts []int64, seq int64) int {
	return sort.Search(len(starts), func(i int) bool { return starts[i] > seq }) - 1
}

// timeline is what the session split needs of one conversation: the seq and
// time (unix seconds) of every turn indexed, ascending by seq, and the
// session starts derived from them (recomputed when the timeline grows).
type timeline struct {
	mu     sync.Mutex
	seqs   []int64
	at     []int64
	starts []int64 // nil: stale
	// created is the conversation's CreatedAt as this Indexer first saw
	// it (zero: not yet): another value means the conversation was deleted
	// and created again elsewhere (see SyncConversation).
	created time.Time
}

func (tl *timeline) last() int64 {
	if len(tl.seqs) == 0 {
		return 0
	}
	return tl.seqs[len(tl.seqs)-1]
}

// add appends docs (ascending by seq) that follow the timeline's end.
func (tl *timeline) add(docs []Doc) {
	for _, d := range docs {
		if d.Seq <= tl.last() {
			continue
		}
		tl.seqs = append(tl.seqs, d.Seq)
		tl.at = append(tl.at, d.CreatedAt.Unix())
		tl.starts = nil
	}
}

// timelines holds the timelines of the conversations an Indexer serves,
// bounded in number (past the bound it starts afresh; a missing timeline
// is read back from the store).
type timelines struct {
	mu sync.Mutex
	m  map[string]*timeline
}

const maxTimelines = 4096

func (ts *timelines) get(scoped string) *timeline {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.m == nil || len(ts.m) >= maxTimelines {
		if tl, ok := ts.m[scoped]; ok {
			return tl
		}
		ts.m = map[string]*timeline{}
	}
	tl, ok := ts.m[scoped]
	if !ok {
		tl = &timeline{}
		ts.m[scoped] = tl
	}
	return tl
}

func (ts *timelines) drop(scoped string) {
	ts.mu.Lock()
	delete(ts.m, scoped)
	ts.mu.Unlock()
}

// Sessions returns the session split of a conversation through seq upTo
// (the index watermark) and the time of its newest turn, reading from the
// store only the turns the timeline has not seen (after a restart with a
// persistent index, or when the bound dropped it).
func (ix *Indexer) Sessions(ctx context.Context, tenant, conv string, upTo int64) ([]int64, time.Time, error) {
	tl := ix.timelines.get(ScopedID(tenant, conv))
	tl.mu.Lock()
	defer tl.mu.Unlock()
	for tl.last() < upTo {
		turns, err := ix.store.Turns(ctx, tenant, conv, tl.last(), ix.pageSize)
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("retrieval: read turns of %s for sessions: %w", conv, err)
		}
		if len(turns) == 0 {
			break
		}
		docs := make([]Doc, len(turns))
		for i, t := range turns {
			docs[i] = Doc{Seq: t.Seq, CreatedAt: t.CreatedAt}
		}
		tl.add(docs)
	}
	if tl.starts == nil {
		tl.starts = SessionStarts(tl.seqs, tl.at)
	}
	var newest time.Time
	if n := len(tl.at); n > 0 {
		newest = time.Unix(tl.at[n-1], 0).UTC()
	}
	return tl.starts, newest, nil
}

// noteIndexed extends a conversation's timeline with docs just upserted
// (fresh: the index was empty before them, so any old timeline is reset).
func (ix *Indexer) noteIndexed(scoped string, docs []Doc, fresh bool) {
	tl := ix.timelines.get(scoped)
	tl.mu.Lock()
	defer tl.mu.Unlock()
	if fresh {
		tl.seqs, tl.at, tl.starts = nil, nil, nil
	}
	tl.add(docs)
}

// SessionScores scores each session by the lexical hits inside it, best
// first, the k-th (from 0) weighing sessionDecay^k: one strong match makes
// a good session, more matches make it better, and a long session does not
// win by its length alone. Scores are relative to the best hit. Sessions
// without hits are absent. Pure.
func SessionScores(hits []Hit, starts []int64) map[int]float64 {
	var best float64
	for _, h := range hits {
		best = max(best, h.Score)
	}
	if best <= 0 || len(starts) == 0 {
		return nil
	}
	// hits are ordered best first, so each session sees its hits in order.
	out := map[int]float64{}
	weight := map[int]float64{}
	for _, h := range hits {
		i := sessionOf(starts, h.Seq)
		if i < 0 {
			continue
		}
		w, ok := weight[i]
		if !ok {
			w = 1
		}
		out[i] += w * h.Score / best
		weight[i] = w * sessionDecay
	}
	return out
}

// sessionDecay is the weight of each further hit of a session relative to
// the one before (see SessionScores).
const sessionDecay = 0.5

// sessionStage is the first stage of two-stage recall: it scores the
// sessions by the lexical hits (SessionScores), and returns the best
// CandidateLimit hits by their own normalised score plus their session's
// (ties by seq), with each seq's normalised session score (0..1). With
// sessions off it returns the hits as they are.
func (a *Assembler) sessionStage(starts []int64, hits []Hit) ([]Hit, func(int64) float64) {
	none := func(int64) float64 { return 0 }
	w := a.cfg.Rank.withDefaults().SessionWeight
	if w <= 0 || len(hits) == 0 {
		return hits, none
	}
	scores := SessionScores(hits, starts)
	var bestSession float64
	for _, v := range scores {
		bestSession = max(bestSession, v)
	}
	if bestSession <= 0 {
		return hits, none
	}
	prior := func(seq int64) float64 {
		return scores[sessionOf(starts, seq)] / bestSession
	}
	if len(hits) <= a.cfg.CandidateLimit {
		return hits, prior
	}
	best := hits[0].Score // hits are ordered best first
	type ranked struct {
		h Hit
		v float64
	}
	rs := make([]ranked, len(hits))
	for i, h := range hits {
		rs[i] = ranked{h, h.Score/best + w*prior(h.Seq)}
	}
	slices.SortFunc(rs, func(x, y ranked) int { return cmpPrio(x.v, y.v, x.h.Seq, y.h.Seq) })
	out := make([]Hit, a.cfg.CandidateLimit)
	for i := range out {
		out[i] = rs[i].h
	}
	return out, prior
}
