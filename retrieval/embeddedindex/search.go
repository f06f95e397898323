package embeddedindex

import (
	"fmt"
	"math"
	"slices"

	"github.com/longmem/longmem/retrieval"
)

// scratch is the per-search state of a lexical search: the accumulated
// scores indexed by slot (untouched entries are 0; a search resets what it
// touched) and one term's lists.
type scratch struct {
	scores  []float64
	touched []int32
	lists   []segList
	block   [128]posting // decoded postings of a segment list
}

// bm25 scores one query term's postings.
type bm25 struct {
	w, normA, normB float64
	maxSeq          int64
	seqs            []int64
	lens            []float32
	live            []bool
	scores          []float64
}

// add adds w·tf/(tf + norm(len)) to the score of each posting's slot when
// its doc is live and within MaxSeq, and returns touched with the slots
// scored for the first time appended.
func (a *bm25) add(ps []posting, touched []int32) []int32 {
	w, normA, normB, maxSeq, seqs, lens, live, scores := a.w, a.normA, a.normB, a.maxSeq, a.seqs, a.lens, a.live, a.scores
	for _, p := range ps {
		if !live[p.slot] || (maxSeq > 0 && seqs[p.slot] > maxSeq) {
			continue
		}
		tf := float64(p.tf)
		v := w * tf / (tf + normA + float64(lens[p.slot])*normB)
		if scores[p.slot] == 0 {
			touched = append(touched, p.slot)
		}
		scores[p.slot] += v
	}
	return touched
}

// segList is one segment's encoded postings of a term.
type segList struct {
	enc  []byte // postings, after the count
	n    int    // postings in enc
	base int32
}

// searchLexical scores the live docs holding any query term with BM25. A
// term's document frequency is its postings less its dead ones (deadDF).
// It is the hot loop of recall: everything a posting reads is a local.
func (c *conversation) searchLexical(q retrieval.Query, sc *scratch) []retrieval.Hit {
	if c.live == 0 {
		return nil
	}
	if len(sc.scores) < len(c.meta) {
		sc.scores = make([]float64, len(c.meta))
	}
	n := float64(c.live)
	avgLen := c.sumLen / n
	if avgLen <= 0 {
		avgLen = 1
	}
	// norm(len) = k1*(1-b) + len*(k1*b/avgLen)
	normA, normB := k1*(1-b), k1*b/avgLen
	seqs, lens, live, scores, touched, maxSeq := c.seqs, c.lens, c.liveSlot, sc.scores, sc.touched[:0], q.MaxSeq
	for _, qt := range q.Terms {
		if !(qt.Weight > 0) {
			continue
		}
		lists, total := sc.lists[:0], 0
		for _, seg := range c.segs {
			if l := seg.list(qt.ID); l != nil {
				cnt, enc := listLen(l)
				lists = append(lists, segList{enc: enc, n: cnt, base: seg.base})
				total += cnt
			}
		}
		sc.lists = lists
		tail := c.tail[qt.ID]
		df := float64(total + len(tail) - int(c.deadDF[qt.ID]))
		if df <= 0 {
			continue
		}
		w := float64(qt.Weight) * math.Log(1+(n-df+0.5)/(df+0.5)) * (k1 + 1)
		// The segments' postings, decoded a block at a time, then the tail's.
		acc := bm25{w: w, normA: normA, normB: normB, maxSeq: maxSeq, seqs: seqs, lens: lens, live: live, scores: scores}
		for _, l := range lists {
			enc, prev := l.enc, l.base
			for left := l.n; left > 0; {
				k := min(left, len(sc.block))
				for i := range k {
					sc.block[i], enc = nextPosting(enc, prev)
					prev = sc.block[i].slot
				}
				left -= k
				touched = acc.add(sc.block[:k], touched)
			}
		}
		touched = acc.add(tail, touched)
	}
	h := topK{limit: q.Limit}
	for _, s := range touched {
		h.push(retrieval.Hit{Seq: seqs[s], Score: scores[s]})
		scores[s] = 0
	}
	sc.touched = touched[:0]
	return h.sorted()
}

// searchDense scores the live docs with a vector by cosine similarity.
func (c *conversation) searchDense(q retrieval.Query) ([]retrieval.Hit, error) {
	if c.vecLive == 0 {
		return nil, nil
	}
	if len(q.Dense) != c.dim {
		return nil, fmt.Errorf("query dense dimension %d, conversation has %d", len(q.Dense), c.dim)
	}
	qn := norm(q.Dense)
	if qn == 0 {
		return nil, nil
	}
	qinv := 1 / qn
	h := topK{limit: q.Limit}
	seqs, live, invNorm, dim := c.seqs, c.liveSlot, c.invNorm, c.dim
	for ci, chunk := range c.vecs {
		base := ci * vecChunkRows
		for r := range len(chunk) / dim {
			s := base + r
			// invNorm is 0 for a missing or zero vector, which has no
			// direction: skip it.
			if !live[s] || invNorm[s] == 0 || (q.MaxSeq > 0 && seqs[s] > q.MaxSeq) {
				continue
			}
			d := dot(q.Dense, chunk[r*dim:(r+1)*dim])
			h.push(retrieval.Hit{Seq: seqs[s], Score: float64(d) * qinv * float64(invNorm[s])})
		}
	}
	return h.sorted(), nil
}

// norm is the Euclidean norm of v.
func norm(v []float32) float64 {
	return math.Sqrt(float64(dot(v, v)))
}

// dot is the inner product of a and b, len(b) >= len(a).
func dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// topK keeps the limit best hits in a min-heap whose root is the worst.
type topK struct {
	limit int
	hits  []retrieval.Hit
}

// better orders hits: higher score first, then lower seq.
func better(a, b retrieval.Hit) bool {
	return a.Score > b.Score || (a.Score == b.Score && a.Seq < b.Seq)
}

func (h *topK) push(x retrieval.Hit) {
	if len(h.hits) < h.limit {
		h.hits = append(h.hits, x)
		// sift up
		i := len(h.hits) - 1
		for i > 0 {
			p := (i - 1) / 2
			if !better(h.hits[p], h.hits[i]) {
				break
			}
			h.hits[p], h.hits[i] = h.hits[i], h.hits[p]
			i = p
		}
		return
	}
	if !better(x, h.hits[0]) {
		return
	}
	h.hits[0] = x
	// sift down
	i, n := 0, len(h.hits)
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		w := l
		if r := l + 1; r < n && better(h.hits[l], h.hits[r]) {
			w = r
		}
		if !better(h.hits[i], h.hits[w]) {
			break
		}
		h.hits[i], h.hits[w] = h.hits[w], h.hits[i]
		i = w
	}
}

// sorted returns the hits best first.
func (h *topK) sorted() []retrieval.Hit {
	slices.SortFunc(h.hits, func(a, b retrieval.Hit) int {
		switch {
		case better(a, b):
			return -1
		case better(b, a):
			return 1
		}
		return 0
	})
	return h.hits
}
