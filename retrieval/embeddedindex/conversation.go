package embeddedindex

import (
	"container/list"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/longmem/longmem/retrieval"
)

// compactMinDead is how many tombstones a conversation tolerates before it
// compacts; past it, it compacts once tombstones outnumber live docs.
const compactMinDead = 64

// conversation is the index of one conversation. Docs live in slots,
// appended in upsert order; a replaced or deleted doc's slot becomes a
// tombstone until the next compaction.
type conversation struct {
	id string

	// Guarded by Index.mu.
	elem  *list.Element
	count int // live docs as accounted in Index.docs

	// evicted is set (under Index.mu) when the Index forgets the
	// conversation; writers that find it set start again.
	evicted atomic.Bool

	mu sync.RWMutex
	// Per slot, guarded by mu.
	seqs    []int64
	alive   []bool
	lengths []float32       // BM25 document length
	hasVec  []bool          // the doc has a dense vector
	invNorm []float32       // 1/‖v‖ of the doc's vector, 0 for a zero vector (never a dense hit)
	docs    []retrieval.Doc // the doc with Dense nil (rows of vecs hold it)
	vecs    []float32       // row-major, dim values per slot (zeros without a vector)

	bySeq     map[int64]int32 // live docs only
	postings  map[uint32]*postingList
	live      int
	dead      int
	sumLen    float64 // over live docs
	dim       int     // dimension of vecs; 0 until a doc has a vector
	vecLive   int     // live docs with a vector
	watermark int64
}

// postingList holds the slots whose doc contains a term, ascending, with the
// term's count in each; tombstoned slots stay until compaction. df counts the
// live ones.
type postingList struct {
	slots []int32
	tfs   []uint32
	df    int
}

func newConversation(id string) *conversation {
	c := &conversation{id: id}
	c.reset()
	return c
}

// reset empties the conversation (Watermark 0).
func (c *conversation) reset() {
	c.seqs, c.alive, c.lengths, c.hasVec, c.invNorm, c.docs, c.vecs = nil, nil, nil, nil, nil, nil, nil
	c.bySeq = map[int64]int32{}
	c.postings = map[uint32]*postingList{}
	c.live, c.dead, c.sumLen, c.dim, c.vecLive, c.watermark = 0, 0, 0, 0, 0, 0
}

// validate checks docs against each other and the conversation.
func (c *conversation) validate(docs []retrieval.Doc) error {
	dim := 0
	if c.vecLive > 0 {
		dim = c.dim
	}
	for _, d := range docs {
		for j := 1; j < len(d.Terms); j++ {
			if d.Terms[j].ID <= d.Terms[j-1].ID {
				return fmt.Errorf("seq %d: terms not strictly ascending by id at %d", d.Seq, j)
			}
		}
		if len(d.Dense) == 0 {
			continue
		}
		if dim == 0 {
			dim = len(d.Dense)
		} else if len(d.Dense) != dim {
			return fmt.Errorf("seq %d: dense dimension %d, conversation has %d", d.Seq, len(d.Dense), dim)
		}
	}
	return nil
}

// upsert adds d, replacing the live doc with its seq. validate has passed.
func (c *conversation) upsert(d retrieval.Doc) {
	if s, ok := c.bySeq[d.Seq]; ok {
		c.kill(s)
	}
	if len(d.Dense) > 0 && c.dim != len(d.Dense) {
		// No live vector has another dimension (validate): resize the
		// matrix, all zeros.
		c.dim = len(d.Dense)
		c.vecs = make([]float32, len(c.seqs)*c.dim)
	}
	s := int32(len(c.seqs))
	stored := d
	stored.Dense = nil
	stored.Terms = slices.Clone(d.Terms)
	c.seqs = append(c.seqs, d.Seq)
	c.alive = append(c.alive, true)
	c.lengths = append(c.lengths, float32(d.Length))
	c.docs = append(c.docs, stored)
	var inv float32
	has := len(d.Dense) > 0
	if has {
		c.vecs = append(c.vecs, d.Dense...)
		if n := norm(d.Dense); n > 0 {
			inv = float32(1 / n)
		}
		c.vecLive++
	} else if c.dim > 0 {
		c.vecs = append(c.vecs, make([]float32, c.dim)...)
	}
	c.hasVec = append(c.hasVec, has)
	c.invNorm = append(c.invNorm, inv)
	c.post(s, d.Terms)
	c.bySeq[d.Seq] = s
	c.live++
	c.sumLen += float64(d.Length)
	c.watermark = max(c.watermark, d.Seq)
}

// kill tombstones slot s; the caller updates bySeq.
func (c *conversation) kill(s int32) {
	if !c.alive[s] {
		return
	}
	c.alive[s] = false
	for _, tf := range c.docs[s].Terms {
		if p := c.postings[tf.ID]; p != nil && tf.Count > 0 {
			p.df--
		}
	}
	if c.hasVec[s] {
		c.vecLive--
	}
	c.sumLen -= float64(c.lengths[s])
	c.docs[s] = retrieval.Doc{}
	c.live--
	c.dead++
}

// maybeCompact drops tombstones once they outnumber the live docs.
func (c *conversation) maybeCompact() {
	if c.dead < compactMinDead || c.dead <= c.live {
		return
	}
	oSeqs, oAlive, oLengths, oHasVec, oInvNorm, oDocs, oVecs, oDim :=
		c.seqs, c.alive, c.lengths, c.hasVec, c.invNorm, c.docs, c.vecs, c.dim
	c.seqs = make([]int64, 0, c.live)
	c.alive = make([]bool, 0, c.live)
	c.lengths = make([]float32, 0, c.live)
	c.hasVec = make([]bool, 0, c.live)
	c.invNorm = make([]float32, 0, c.live)
	c.docs = make([]retrieval.Doc, 0, c.live)
	c.vecs = nil
	if c.vecLive == 0 {
		c.dim = 0
	} else {
		c.vecs = make([]float32, 0, c.live*c.dim)
	}
	c.bySeq = make(map[int64]int32, c.live)
	c.postings = make(map[uint32]*postingList, len(c.postings))
	c.dead = 0
	var sumLen float64
	for s := range oSeqs {
		if !oAlive[s] {
			continue
		}
		n := int32(len(c.seqs))
		c.seqs = append(c.seqs, oSeqs[s])
		c.alive = append(c.alive, true)
		c.lengths = append(c.lengths, oLengths[s])
		c.hasVec = append(c.hasVec, oHasVec[s])
		c.invNorm = append(c.invNorm, oInvNorm[s])
		c.docs = append(c.docs, oDocs[s])
		if c.dim > 0 {
			c.vecs = append(c.vecs, oVecs[s*oDim:(s+1)*oDim]...)
		}
		c.bySeq[oSeqs[s]] = n
		sumLen += float64(oLengths[s])
		c.post(n, oDocs[s].Terms)
	}
	c.sumLen = sumLen // recomputed, so float drift from kills does not build up
}

// doc returns a copy of the doc in slot s.
func (c *conversation) doc(s int32, vectors bool) retrieval.Doc {
	d := c.docs[s] // Terms is shared: stored docs' term slices are never modified
	if vectors && c.hasVec[s] {
		d.Dense = slices.Clone(c.vecs[int(s)*c.dim : (int(s)+1)*c.dim])
	}
	return d
}

// post adds slot's terms to the posting lists.
func (c *conversation) post(slot int32, terms []retrieval.TermFreq) {
	for _, tf := range terms {
		if tf.Count == 0 {
			continue
		}
		p := c.postings[tf.ID]
		if p == nil {
			p = &postingList{}
			c.postings[tf.ID] = p
		}
		p.slots = append(p.slots, slot)
		p.tfs = append(p.tfs, tf.Count)
		p.df++
	}
}

// scratch is the per-search accumulator of lexical scores, indexed by slot.
// Untouched entries are 0; a search resets what it touched.
type scratch struct {
	scores  []float64
	touched []int32
}

// searchLexical scores the live docs holding any query term with BM25.
func (c *conversation) searchLexical(q retrieval.Query, sc *scratch) []retrieval.Hit {
	if c.live == 0 {
		return nil
	}
	if len(sc.scores) < len(c.seqs) {
		sc.scores = make([]float64, len(c.seqs))
	}
	scores, touched := sc.scores, sc.touched[:0]
	n := float64(c.live)
	avgLen := c.sumLen / n
	if avgLen <= 0 {
		avgLen = 1
	}
	// norm(len) = k1*(1-b) + len*(k1*b/avgLen)
	normA, normB := k1*(1-b), k1*b/avgLen
	for _, qt := range q.Terms {
		p := c.postings[qt.ID]
		if p == nil || p.df <= 0 || !(qt.Weight > 0) {
			continue
		}
		df := float64(p.df)
		w := float64(qt.Weight) * math.Log(1+(n-df+0.5)/(df+0.5)) * (k1 + 1)
		for j, s := range p.slots {
			if !c.alive[s] || (q.MaxSeq > 0 && c.seqs[s] > q.MaxSeq) {
				continue
			}
			tf := float64(p.tfs[j])
			v := w * tf / (tf + normA + float64(c.lengths[s])*normB)
			if scores[s] == 0 {
				touched = append(touched, s)
			}
			scores[s] += v
		}
	}
	h := topK{limit: q.Limit}
	for _, s := range touched {
		h.push(retrieval.Hit{Seq: c.seqs[s], Score: scores[s]})
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
	dim := c.dim
	h := topK{limit: q.Limit}
	for s, seq := range c.seqs {
		// invNorm is 0 for a zero vector, which has no direction: skip it.
		if !c.hasVec[s] || !c.alive[s] || c.invNorm[s] == 0 || (q.MaxSeq > 0 && seq > q.MaxSeq) {
			continue
		}
		d := dot(q.Dense, c.vecs[s*dim:(s+1)*dim])
		h.push(retrieval.Hit{Seq: seq, Score: float64(d) * qinv * float64(c.invNorm[s])})
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
