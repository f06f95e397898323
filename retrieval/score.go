package retrieval

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// RankConfig tunes how recall candidates are scored and packed. The zero
// value means the defaults (see withDefaults).
type RankConfig struct {
	// LexicalWeight and DenseWeight weigh the two normalised score lists in
	// the fusion (defaults 1 and 0.3). A list that is absent contributes 0.
	LexicalWeight float64 `yaml:"lexical_weight" json:"lexical_weight,omitempty"`
	DenseWeight   float64 `yaml:"dense_weight" json:"dense_weight,omitempty"`
	// RecencyWeight adds up to this fraction to the score of the newest
	// turn, decaying by half every RecencyHalfLife turns (defaults 0.1, 500;
	// a negative weight disables the prior).
	RecencyWeight   float64 `yaml:"recency_weight" json:"recency_weight,omitempty"`
	RecencyHalfLife float64 `yaml:"recency_half_life" json:"recency_half_life,omitempty"`
	// Neighbours is how many turns on each side of a hit are candidates too
	// (default 2), each worth NeighbourDecay^distance of the hit (default
	// 0.7). Negative disables.
	Neighbours     int     `yaml:"neighbours" json:"neighbours,omitempty"`
	NeighbourDecay float64 `yaml:"neighbour_decay" json:"neighbour_decay,omitempty"`
	// Smoothing selects how neighbours count: "max" (a neighbour is worth
	// its best hit's decayed score) or "sum" (every turn adds the decayed
	// scores of the hits around it, so clusters of matches — the passage
	// where a topic was discussed — rise together). Default "sum".
	Smoothing string `yaml:"smoothing" json:"smoothing,omitempty"`
	// SpeakerWeight multiplies the score of a hit whose speaker the query
	// names by 1+SpeakerWeight: questions about a person mostly concern
	// what that person said (default 0.5; negative disables).
	SpeakerWeight float64 `yaml:"speaker_weight" json:"speaker_weight,omitempty"`
	// TimeWeight multiplies the score of a hit dated within a period the
	// query names ("in June", "on 8 May 2023") by 1+TimeWeight (default
	// 1; negative disables).
	TimeWeight float64 `yaml:"time_weight" json:"time_weight,omitempty"`
	// SessionWeight adds up to this much to a turn for the session it sits
	// in: the session's lexical hits, summed and normalised by the best
	// session's (default 0.3; negative disables). Sessions are the
	// conversation's sittings (see SessionStarts).
	SessionWeight float64 `yaml:"session_weight" json:"session_weight,omitempty"`
	// CostExponent shapes packing: candidates are taken in order of
	// score / cost^CostExponent (default 0: best first; 1 is value per
	// token, which on long conversations favours short, empty turns).
	CostExponent float64 `yaml:"cost_exponent" json:"cost_exponent,omitempty"`
	// MinScore drops candidates whose fused score is below this fraction of
	// the best one (default 0.02).
	MinScore float64 `yaml:"min_score" json:"min_score,omitempty"`
}

func (c RankConfig) withDefaults() RankConfig {
	def := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.LexicalWeight, 1)
	def(&c.DenseWeight, 0.3)
	def(&c.RecencyWeight, 0.1)
	def(&c.RecencyHalfLife, 500)
	def(&c.NeighbourDecay, 0.7)
	def(&c.MinScore, 0.02)
	def(&c.SpeakerWeight, 0.5)
	def(&c.TimeWeight, 1)
	def(&c.SessionWeight, 0.3)
	if c.Neighbours == 0 {
		c.Neighbours = 2
	}
	if c.Smoothing == "" {
		c.Smoothing = "sum"
	}
	return c
}

// Validate reports settings that make no sense: every number must be
// finite; weights that a negative value disables may be negative, the rest
// not; neighbour_decay is a fraction.
func (c RankConfig) Validate() error {
	if err := checkNumbers("retrieval: rank ", []numberField{
		{"lexical_weight", c.LexicalWeight, false}, {"dense_weight", c.DenseWeight, false},
		{"recency_weight", c.RecencyWeight, true}, {"recency_half_life", c.RecencyHalfLife, false},
		{"neighbour_decay", c.NeighbourDecay, false}, {"speaker_weight", c.SpeakerWeight, true},
		{"time_weight", c.TimeWeight, true}, {"session_weight", c.SessionWeight, true},
		{"cost_exponent", c.CostExponent, false}, {"min_score", c.MinScore, false},
	}); err != nil {
		return err
	}
	if c.NeighbourDecay > 1 {
		return fmt.Errorf("retrieval: rank neighbour_decay must be in [0,1], got %v", c.NeighbourDecay)
	}
	switch c.Smoothing {
	case "", "sum", "max":
	default:
		return fmt.Errorf("retrieval: rank smoothing %q: want sum or max", c.Smoothing)
	}
	return nil
}

// numberField is one number of a config for checkNumbers.
type numberField struct {
	name     string
	v        float64
	negative bool // a negative value is allowed (it disables)
}

// checkNumbers reports the first field that is not a finite number, or is
// negative where that is not allowed.
func checkNumbers(prefix string, fs []numberField) error {
	for _, f := range fs {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			return fmt.Errorf("%s%s must be a finite number, got %v", prefix, f.name, f.v)
		}
		if f.v < 0 && !f.negative {
			return fmt.Errorf("%s%s must be >= 0, got %v", prefix, f.name, f.v)
		}
	}
	return nil
}

// Reasons a candidate is in.
const (
	ReasonLexical   = "lexical match"
	ReasonDense     = "vector match"
	ReasonNeighbour = "neighbour of seq %d"
	ReasonRecent    = "recent"
	ReasonTime      = "date match"
)

// Candidate is one turn that may be recalled.
type Candidate struct {
	Seq  int64
	Cost int // tokens it takes in the context, rendering included
	// Key identifies near-duplicates: candidates with the same non-zero Key
	// say the same thing; only the best is kept.
	Key uint64

	Lexical  float64 // raw BM25 score (0 = no lexical hit)
	Dense    float64 // cosine similarity (only meaningful when HasDense)
	HasDense bool
	// Speaker: the query names the turn's speaker.
	Speaker bool
	// InTime: the turn is dated within a period the query names.
	InTime bool
	// Session is the normalised score of the turn's session (0..1).
	Session float64

	Score float64 // fused value, set by Rank
	// Via is the seq of the hit whose neighbourhood lifted this candidate
	// (0: none), set by Rank.
	Via int64
}

// Reasons says why c is a candidate, derived from its scores.
func (c Candidate) Reasons() []string {
	r := make([]string, 0, 3)
	if c.Lexical > 0 {
		r = append(r, ReasonLexical)
	}
	if c.HasDense {
		r = append(r, ReasonDense)
	}
	if c.InTime {
		r = append(r, ReasonTime)
	}
	if c.Via != 0 {
		r = append(r, fmt.Sprintf(ReasonNeighbour, c.Via))
	}
	return r
}

// Rank scores the direct hits (lexical and/or dense), adds their neighbours
// from pool, drops near-duplicates and returns the candidates in packing
// order: score / cost^CostExponent descending, ties by seq ascending. lastSeq
// is the conversation's newest seq (for the recency prior). It is pure and
// deterministic.
//
// hits are the direct hits; pool maps seq → candidate for every turn that
// may be used as a neighbour (hits included); a neighbour missing from pool
// is skipped.
func Rank(cfg RankConfig, hits []Candidate, pool map[int64]Candidate, lastSeq int64) []Candidate {
	cfg = cfg.withDefaults()
	if len(hits) == 0 {
		return nil
	}
	var maxLex float64
	minDense, maxDense := math.Inf(1), math.Inf(-1)
	for _, h := range hits {
		maxLex = max(maxLex, h.Lexical)
		if h.HasDense {
			minDense = min(minDense, h.Dense)
			maxDense = max(maxDense, h.Dense)
		}
	}
	byseq := make(map[int64]Candidate, len(hits)*3)
	for _, h := range hits {
		var s float64
		h.Via = 0
		if h.Lexical > 0 && maxLex > 0 {
			s += cfg.LexicalWeight * h.Lexical / maxLex
		}
		if h.HasDense && maxDense > minDense {
			s += cfg.DenseWeight * (h.Dense - minDense) / (maxDense - minDense)
		} else if h.HasDense && maxDense > 0 {
			s += cfg.DenseWeight
		}
		if h.Session > 0 && cfg.SessionWeight > 0 {
			s += cfg.SessionWeight * h.Session
		}
		if h.Speaker && cfg.SpeakerWeight > 0 {
			s *= 1 + cfg.SpeakerWeight
		}
		if h.InTime && cfg.TimeWeight > 0 {
			s *= 1 + cfg.TimeWeight
		}
		if lastSeq > 0 && cfg.RecencyWeight > 0 {
			age := float64(lastSeq - h.Seq)
			s *= 1 + cfg.RecencyWeight*math.Exp2(-age/cfg.RecencyHalfLife)
		}
		h.Score = s
		byseq[h.Seq] = h
	}
	var best float64
	for _, h := range byseq {
		best = max(best, h.Score)
	}
	// Neighbours: in seq order so that the outcome never depends on map order.
	direct := make([]Candidate, 0, len(byseq))
	for _, h := range byseq {
		direct = append(direct, h)
	}
	slices.SortFunc(direct, func(a, b Candidate) int { return cmp.Compare(a.Seq, b.Seq) })
	// neighbours calls fn for each turn of pool within cfg.Neighbours of
	// h, with its weight NeighbourDecay^distance.
	neighbours := func(h Candidate, fn func(seq int64, n Candidate, w float64)) {
		w := 1.0
		for d := 1; d <= cfg.Neighbours; d++ {
			w *= cfg.NeighbourDecay
			for _, seq := range []int64{h.Seq - int64(d), h.Seq + int64(d)} {
				if n, ok := pool[seq]; ok {
					fn(seq, n, w)
				}
			}
		}
	}
	switch {
	case cfg.Neighbours <= 0:
	case cfg.Smoothing == "sum":
		own := make(map[int64]float64, len(direct))
		for _, h := range direct {
			own[h.Seq] = h.Score
		}
		for _, h := range direct {
			neighbours(h, func(seq int64, n Candidate, w float64) {
				cur, seen := byseq[seq]
				if !seen {
					n.Via = h.Seq
					cur = n
				} else if _, isHit := own[seq]; isHit && h.Score*w > cur.Score-own[seq] && cur.Via == 0 {
					cur.Via = h.Seq
				}
				cur.Score += h.Score * w
				byseq[seq] = cur
			})
		}
	default: // "max"
		for _, h := range direct {
			if h.Score < cfg.MinScore*best {
				continue
			}
			neighbours(h, func(seq int64, n Candidate, w float64) {
				v := h.Score * w
				cur, seen := byseq[seq]
				switch {
				case seen && cur.Score >= v:
				case seen: // a weak direct hit lifted by a strong neighbour
					cur.Score, cur.Via = v, h.Seq
					byseq[seq] = cur
				default:
					n.Score, n.Via = v, h.Seq
					byseq[seq] = n
				}
			})
		}
	}
	// Sort light (priority, seq, slot) entries, not the candidates.
	type entry struct {
		prio float64
		seq  int64
		c    *Candidate
	}
	all := make([]Candidate, 0, len(byseq))
	for _, c := range byseq {
		if c.Score >= cfg.MinScore*best && c.Score > 0 {
			all = append(all, c)
		}
	}
	order := make([]entry, len(all))
	for i := range all {
		p := all[i].Score
		if cfg.CostExponent != 0 {
			p /= math.Pow(float64(max(all[i].Cost, 1)), cfg.CostExponent)
		}
		order[i] = entry{p, all[i].Seq, &all[i]}
	}
	slices.SortFunc(order, func(a, b entry) int { return cmpPrio(a.prio, b.prio, a.seq, b.seq) })
	// Near-duplicates: keep the first (best) of each key.
	seen := make(map[uint64]bool, len(order))
	kept := make([]Candidate, 0, len(order))
	for _, e := range order {
		if k := e.c.Key; k != 0 {
			if seen[k] {
				continue
			}
			seen[k] = true
		}
		kept = append(kept, *e.c)
	}
	return kept
}

// cmpPrio orders by priority descending, then seq ascending.
func cmpPrio(pa, pb float64, sa, sb int64) int {
	switch {
	case pa > pb:
		return -1
	case pa < pb:
		return 1
	}
	return cmp.Compare(sa, sb)
}
