package retrieval

import (
	"cmp"
	"hash/fnv"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/longmem/longmem/memory"
)

// SummaryReport says which summary went into a context and what it covers.
type SummaryReport struct {
	Level   int   `json:"level"`
	FromSeq int64 `json:"from_seq"`
	ToSeq   int64 `json:"to_seq"`
	Tokens  int   `json:"tokens"`
	// Reason says why it is in: ReasonSummaryRelevant or ReasonSummaryGist.
	Reason string `json:"reason"`
}

// Reasons of SummaryReport.
const (
	// ReasonSummaryRelevant: the summary shares enough of the message's
	// words (SelectRelevantSummaries).
	ReasonSummaryRelevant = "relevant to the message"
	// ReasonSummaryGist: no summary was relevant; it is part of the coarse
	// cover of the history (SelectSummaries).
	ReasonSummaryGist = "gist of the history (no summary is relevant)"
)

// SelectSummaries chooses the long-term memory of a context: summaries that
// cover the history up to maxSeq without overlapping, coarse (high levels)
// for the distant past and fine (level 0) for the nearer past, within
// budget tokens as cost prices them. It starts from the coarsest cover —
// the top level's chain, then each lower level's chain past where the
// higher one ends — drops the oldest items while the cover is over budget,
// then refines the newest items into their children while the budget
// allows. Stale summaries (a turn in them was forgotten) are never used.
// The result is chronological. Pure and deterministic.
func SelectSummaries(all []memory.Summary, maxSeq int64, budget int, cost func(memory.Summary) int) []memory.Summary {
	byLevel := map[int][]memory.Summary{}
	top := -1
	for _, s := range all {
		if s.Stale || s.ToSeq > maxSeq {
			continue
		}
		byLevel[s.Level] = append(byLevel[s.Level], s)
		top = max(top, s.Level)
	}
	if top < 0 || budget <= 0 {
		return nil
	}
	for _, l := range byLevel {
		slices.SortFunc(l, func(a, b memory.Summary) int { return cmp.Compare(a.FromSeq, b.FromSeq) })
	}
	// Coarsest cover: each level continues where the one above ends. A
	// level's chain stops at its first gap (a stale summary left out).
	var cover []memory.Summary
	var coveredTo int64
	for l := top; l >= 0; l-- {
		for _, s := range byLevel[l] {
			if s.FromSeq <= coveredTo {
				continue
			}
			if s.FromSeq != coveredTo+1 {
				break
			}
			cover = append(cover, s)
			coveredTo = s.ToSeq
		}
	}
	total := 0
	for _, s := range cover {
		total += cost(s)
	}
	for len(cover) > 0 && total > budget {
		total -= cost(cover[0])
		cover = cover[1:]
	}
	// Refine from the newest: replace a summary by its children when they
	// cover exactly its range and the budget allows.
	for changed := true; changed; {
		changed = false
		for i := len(cover) - 1; i >= 0; i-- {
			s := cover[i]
			if s.Level == 0 {
				continue
			}
			kids := children(byLevel[s.Level-1], s)
			if kids == nil {
				continue
			}
			extra := -cost(s)
			for _, k := range kids {
				extra += cost(k)
			}
			if total+extra > budget {
				continue
			}
			total += extra
			cover = slices.Concat(cover[:i], kids, cover[i+1:])
			changed = true
			break
		}
	}
	return cover
}

// children returns the summaries of level that exactly tile parent's range,
// or nil.
func children(level []memory.Summary, parent memory.Summary) []memory.Summary {
	var out []memory.Summary
	next := parent.FromSeq
	for _, s := range level {
		if s.ToSeq < parent.FromSeq || s.FromSeq > parent.ToSeq {
			continue
		}
		if s.FromSeq != next || s.ToSeq > parent.ToSeq {
			return nil
		}
		out = append(out, s)
		next = s.ToSeq + 1
	}
	if next != parent.ToSeq+1 {
		return nil
	}
	return out
}

// summariesHeading opens the long-term memory section.
const summariesHeading = "Long-term memory (summaries of the earlier conversation, oldest first):"

func rangeHeader(from, to time.Time) string {
	f, t := from.UTC().Format("2 January 2006"), to.UTC().Format("2 January 2006")
	if f == t {
		return "[" + f + "]"
	}
	return "[" + f + " – " + t + "]"
}

// summaryHeader is the date-range line rendered before a summary, or ""
// when the content already opens with it (an extractive summary of one
// day starts with that day's date).
func summaryHeader(s memory.Summary) string {
	h := rangeHeader(s.FromTime, s.ToTime)
	if strings.HasPrefix(s.Content, h) {
		return ""
	}
	return h
}

// summaryCost is a summary's accounted tokens: header and its newline
// (when rendered), content, newline.
func (a *Assembler) summaryCost(s memory.Summary) int {
	if h := summaryHeader(s); h != "" {
		return a.count(h) + 1 + s.Tokens + 1
	}
	return s.Tokens + 1
}

// renderSummaries renders the chosen summaries and returns the text and its
// accounted cost.
func (a *Assembler) renderSummaries(ss []memory.Summary) (string, int) {
	var b strings.Builder
	cost := a.count(summariesHeading)
	b.WriteString(summariesHeading)
	for _, s := range ss {
		b.WriteString("\n")
		if h := summaryHeader(s); h != "" {
			b.WriteString(h)
			b.WriteString("\n")
		}
		b.WriteString(s.Content)
		cost += a.summaryCost(s)
	}
	return b.String(), cost
}

// SelectRelevantSummaries chooses the long-term memory of a context for a
// question: the summaries that score highest (score > 0), best first while
// they fit budget tokens as cost prices them, none overlapping one already
// chosen, returned chronologically. Ties go to the finer level, then the
// newer range. Stale summaries and those ending after maxSeq are never
// used. nil when no summary scores. Pure and deterministic.
func SelectRelevantSummaries(all []memory.Summary, maxSeq int64, budget int, cost func(memory.Summary) int, score func(memory.Summary) float64) []memory.Summary {
	out, _ := selectRelevantSummaries(all, maxSeq, budget, cost, score)
	return out
}

// selectRelevantSummaries is SelectRelevantSummaries that also returns the
// relevant summaries left out for lack of room, best first.
func selectRelevantSummaries(all []memory.Summary, maxSeq int64, budget int, cost func(memory.Summary) int, score func(memory.Summary) float64) (out, noRoom []memory.Summary) {
	type cand struct {
		s     memory.Summary
		score float64
	}
	var cands []cand
	for _, s := range all {
		if s.Stale || s.ToSeq > maxSeq {
			continue
		}
		if sc := score(s); sc > 0 {
			cands = append(cands, cand{s, sc})
		}
	}
	slices.SortStableFunc(cands, func(a, b cand) int {
		switch {
		case a.score != b.score:
			if a.score > b.score {
				return -1
			}
			return 1
		case a.s.Level != b.s.Level:
			return a.s.Level - b.s.Level
		}
		return cmp.Compare(b.s.FromSeq, a.s.FromSeq)
	})
	used := 0
	for _, c := range cands {
		k := cost(c.s)
		if used+k > budget {
			noRoom = append(noRoom, c.s)
			continue
		}
		if slices.ContainsFunc(out, func(o memory.Summary) bool { return o.FromSeq <= c.s.ToSeq && c.s.FromSeq <= o.ToSeq }) {
			continue
		}
		out = append(out, c.s)
		used += k
	}
	slices.SortFunc(out, func(a, b memory.Summary) int { return cmp.Compare(a.FromSeq, b.FromSeq) })
	return out, noRoom
}

// A summary is chosen for its relevance when it holds at least
// minSummaryQueryTerms distinct terms of the message and at least
// minSummaryQueryShare of them: one shared word (often a name) or a few
// common CJK bigrams are noise. On locomo-dev these thresholds keep
// answer_in_context above the same run without summaries at 1,024 and
// 2,048 tokens (see the README's figures).
const (
	minSummaryQueryTerms = 2
	minSummaryQueryShare = 0.5
)

// summaryScorer scores summaries by the query terms their content holds
// (0 below the thresholds above),
// each weighted by its rarity among the candidates (an IDF), over the
// square root of the summary's cost: a short summary that names the
// question's rare words ranks first.
func (a *Assembler) summaryScorer(question string, all []memory.Summary) func(memory.Summary) float64 {
	q := map[string]bool{}
	for _, t := range a.analyzer.Terms(question) {
		q[t] = true
	}
	has := make(map[int]map[string]bool)
	df := map[string]int{}
	for i, s := range all {
		var m map[string]bool
		for _, t := range a.summaryTerms(s.Content) {
			if q[t] {
				if m == nil {
					m = map[string]bool{}
				}
				m[t] = true
				df[t]++
			}
		}
		if m != nil {
			has[i] = m
		}
	}
	idx := map[[2]int64]int{}
	for i, s := range all {
		idx[[2]int64{int64(s.Level)<<40 | s.FromSeq, s.ToSeq}] = i
	}
	n := float64(len(all))
	return func(s memory.Summary) float64 {
		i, ok := idx[[2]int64{int64(s.Level)<<40 | s.FromSeq, s.ToSeq}]
		if !ok {
			return 0
		}
		sc := 0.0
		if len(has[i]) < minSummaryQueryTerms || float64(len(has[i])) < minSummaryQueryShare*float64(len(q)) {
			return 0
		}
		for t := range has[i] {
			sc += math.Log(1 + n/float64(df[t]))
		}
		return sc / math.Sqrt(float64(max(1, a.summaryCost(s))))
	}
}

// maxTermCache bounds the summary term cache (entries); past it the cache
// starts afresh.
const maxTermCache = 100_000

// termCacheEntry is a summary content's distinct terms, with the content
// itself: two contents whose hashes collide never share terms.
type termCacheEntry struct {
	content string
	terms   []string
}

// summaryTerms returns the distinct lexical terms of a summary's content.
// They are cached by the content's hash (the entry keeps the content and
// is used only when it is the same): a summary's content never changes (a
// rebuild writes new content), so the thousands of summaries of a long
// conversation are analysed once, not at every context.
func (a *Assembler) summaryTerms(content string) []string {
	h := fnv.New64a()
	_, _ = h.Write([]byte(content))
	k := h.Sum64()
	a.termMu.Lock()
	e, ok := a.termCache[k]
	a.termMu.Unlock()
	if ok && e.content == content {
		return e.terms
	}
	var terms []string
	seen := map[string]bool{}
	for _, t := range a.analyzer.Terms(content) {
		if !seen[t] {
			seen[t] = true
			terms = append(terms, t)
		}
	}
	a.termMu.Lock()
	if len(a.termCache) >= maxTermCache {
		a.termCache = map[uint64]termCacheEntry{}
	}
	a.termCache[k] = termCacheEntry{content, terms}
	a.termMu.Unlock()
	return terms
}
