package embeddedindex

import (
	"container/list"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/longmem/longmem/retrieval"
)

// compactMinDead is how many tombstones a conversation tolerates before it
// compacts; past it, it compacts once tombstones outnumber live docs.
const compactMinDead = 64

// vecChunkRows is how many dense vectors one chunk of the vector store
// holds: vectors are appended to fixed-size chunks, so a growing
// conversation never copies its vectors nor keeps a half-empty doubled
// array.
const vecChunkRows = 256

// slotMeta is the fixed-size part of one doc that searches do not read
// (56 bytes; what they read is in conversation.seqs, lens and liveSlot).
// Strings are not duplicated per doc: the speaker (role, name) is an index
// into the conversation's speaker table, and content and caption share one
// string.
type slotMeta struct {
	unixSec    int64  // CreatedAt, seconds since the Unix epoch
	text       string // content followed by caption
	unixNsec   int32  // CreatedAt, nanoseconds within the second
	tokens     int32  // Doc.Tokens
	lineTokens int32  // Doc.LineTokens
	length     int32  // Doc.Length, BM25's document length
	capAt      int32  // text[:capAt] is the content, text[capAt:] the caption
	termsEnd   uint32 // end of the doc's terms in conversation.terms (start: the previous slot's end)
	speaker    uint32 // index into conversation.speakers
	hasVec     bool
}

// speaker is a (role, name) pair, interned per conversation.
type speaker struct{ role, name string }

// conversation is the index of one conversation. Docs live in slots,
// appended in upsert order; a replaced or deleted doc's slot becomes a
// tombstone until the next compaction.
//
// Per slot it keeps the seq, BM25 length and liveness in three dense arrays
// (what a search touches per posting), a slotMeta, the doc's terms in one
// byte arena (see appendTerms) and, when dense vectors are on, one row of a
// chunked float32 matrix and its inverse norm. The inverted index is a list of immutable
// segments (term id → delta/varint-coded slots and frequencies, see
// segment) covering consecutive slot ranges, plus a small mutable tail
// (the last docs upserted, fewer than tailDocs) that is folded into a
// segment when it fills.
type conversation struct {
	id string

	// Guarded by Index.mu.
	elem  *list.Element
	count int   // live docs as accounted in Index.docs
	size  int64 // bytes as accounted in Index.bytes

	// evicted is set (under Index.mu) when the Index forgets the
	// conversation; writers that find it set start again.
	evicted atomic.Bool

	mu sync.RWMutex
	// Guarded by mu.
	seqs     []int64
	lens     []float32 // float32(Doc.Length)
	liveSlot []bool
	meta     []slotMeta
	terms    []byte // every slot's terms, see appendTerms
	speakers []speaker
	spIndex  map[speaker]uint32
	vecs     [][]float32 // chunks of vecChunkRows rows of dim values (zeros without a vector)
	invNorm  []float32   // per slot when dim > 0: 1/‖v‖, 0 for a zero or missing vector (never a dense hit)

	bySeq     map[int64]int32 // live docs only
	segs      []*segment      // ascending, consecutive slot ranges [0, tailBase)
	tailBase  int32           // first slot not in a segment
	tail      map[uint32][]posting
	tailPosts int // postings in tail
	// deadDF counts, per term id, the postings of dead slots still in the
	// segments and the tail: a term's document frequency is its postings
	// less these. Kills add to it; merges, flushes and compaction, which
	// drop dead postings, take away.
	deadDF    map[uint32]int32
	live      int
	dead      int
	textBytes int64   // sum of the live docs' text lengths
	sumLen    float64 // over live docs
	dim       int     // dimension of vecs; 0 until a doc has a vector
	vecLive   int     // live docs with a vector
	watermark int64
}

func newConversation(id string) *conversation {
	c := &conversation{id: id}
	c.reset()
	return c
}

// reset empties the conversation (Watermark 0).
func (c *conversation) reset() {
	c.seqs, c.lens, c.liveSlot, c.meta, c.terms, c.speakers, c.vecs, c.invNorm, c.segs = nil, nil, nil, nil, nil, nil, nil, nil, nil
	c.spIndex = map[speaker]uint32{}
	c.bySeq = map[int64]int32{}
	c.tail, c.tailPosts, c.tailBase = map[uint32][]posting{}, 0, 0
	c.deadDF = map[uint32]int32{}
	c.live, c.dead, c.textBytes, c.sumLen, c.dim, c.vecLive, c.watermark = 0, 0, 0, 0, 0, 0, 0
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
		for _, f := range []struct {
			name string
			v    int
		}{{"tokens", d.Tokens}, {"line tokens", d.LineTokens}, {"length", d.Length}} {
			if f.v != int(int32(f.v)) {
				return fmt.Errorf("seq %d: %s %d out of range", d.Seq, f.name, f.v)
			}
		}
		if len(d.Content)+len(d.Caption) > math.MaxInt32 {
			return fmt.Errorf("seq %d: text of %d bytes too long", d.Seq, len(d.Content)+len(d.Caption))
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
		// No live vector has another dimension (validate): start the
		// matrix afresh, all zeros.
		c.dim = len(d.Dense)
		c.vecs, c.invNorm = nil, nil
		for range c.meta {
			c.appendVector(nil)
		}
	}
	s := int32(len(c.meta))
	text := d.Content
	if d.Caption != "" {
		text += d.Caption
	}
	c.terms = appendTerms(c.terms, d.Terms)
	m := slotMeta{
		text: text, capAt: int32(len(d.Content)),
		tokens: int32(d.Tokens), lineTokens: int32(d.LineTokens), length: int32(d.Length),
		termsEnd: uint32(len(c.terms)), speaker: c.intern(d.Role, d.Name),
		hasVec: len(d.Dense) > 0,
	}
	if !d.CreatedAt.IsZero() {
		m.unixSec, m.unixNsec = d.CreatedAt.Unix(), int32(d.CreatedAt.Nanosecond())
	}
	c.meta = append(c.meta, m)
	c.seqs = append(c.seqs, d.Seq)
	c.lens = append(c.lens, float32(d.Length))
	c.liveSlot = append(c.liveSlot, true)
	if c.dim > 0 {
		c.appendVector(d.Dense)
	}
	c.post(s, d.Terms)
	c.bySeq[d.Seq] = s
	c.live++
	c.textBytes += int64(len(text))
	c.sumLen += float64(d.Length)
	c.watermark = max(c.watermark, d.Seq)
	if int(s+1-c.tailBase) >= tailDocs {
		c.flushTail()
	}
}

// intern returns the index of (role, name) in the speaker table.
func (c *conversation) intern(role, name string) uint32 {
	k := speaker{role, name}
	if i, ok := c.spIndex[k]; ok {
		return i
	}
	i := uint32(len(c.speakers))
	c.speakers = append(c.speakers, k)
	c.spIndex[k] = i
	return i
}

// appendVector appends the next slot's row (zeros when v is empty) and its
// inverse norm. c.dim > 0 and v is empty or has c.dim values.
func (c *conversation) appendVector(v []float32) {
	s := len(c.invNorm)
	if s%vecChunkRows == 0 {
		c.vecs = append(c.vecs, make([]float32, 0, vecChunkRows*c.dim))
	}
	last := len(c.vecs) - 1
	var inv float32
	if len(v) > 0 {
		c.vecs[last] = append(c.vecs[last], v...)
		if n := norm(v); n > 0 {
			inv = float32(1 / n)
		}
		c.vecLive++
	} else {
		c.vecs[last] = c.vecs[last][:len(c.vecs[last])+c.dim] // zeros: chunks are allocated zeroed
	}
	c.invNorm = append(c.invNorm, inv)
}

// vector returns slot s's row of the dense matrix. c.dim > 0.
func (c *conversation) vector(s int32) []float32 {
	row := int(s) % vecChunkRows
	return c.vecs[int(s)/vecChunkRows][row*c.dim : (row+1)*c.dim]
}

// termsOf returns slot s's encoded terms.
func (c *conversation) termsOf(s int32) []byte {
	start := uint32(0)
	if s > 0 {
		start = c.meta[s-1].termsEnd
	}
	return c.terms[start:c.meta[s].termsEnd]
}

// kill tombstones slot s; the caller updates bySeq. Its postings stay (a
// search skips dead slots) until a segment merge or compaction drops them.
func (c *conversation) kill(s int32) {
	if !c.liveSlot[s] {
		return
	}
	m := &c.meta[s]
	c.liveSlot[s] = false
	eachTerm(c.termsOf(s), func(id, n uint32) {
		if n > 0 {
			c.deadDF[id]++
		}
	})
	if m.hasVec {
		c.vecLive--
	}
	c.sumLen -= float64(c.lens[s])
	c.textBytes -= int64(len(m.text))
	m.text = ""
	c.live--
	c.dead++
}

// maybeCompact drops tombstones once they outnumber the live docs.
func (c *conversation) maybeCompact() {
	if c.dead < compactMinDead || c.dead <= c.live {
		return
	}
	oSeqs, oLens, oLive, oMeta, oTerms := c.seqs, c.lens, c.liveSlot, c.meta, c.terms
	old := &conversation{meta: oMeta, terms: oTerms, vecs: c.vecs, dim: c.dim}
	c.seqs = make([]int64, 0, c.live)
	c.lens = make([]float32, 0, c.live)
	c.liveSlot = make([]bool, 0, c.live)
	c.meta = make([]slotMeta, 0, c.live)
	c.terms = make([]byte, 0, len(oTerms)*c.live/max(1, c.live+c.dead))
	c.vecs, c.invNorm = nil, nil
	if c.vecLive == 0 {
		c.dim = 0
	}
	c.bySeq = make(map[int64]int32, c.live)
	c.dead, c.vecLive = 0, 0
	var sumLen float64
	for s := range oMeta {
		if !oLive[s] {
			continue
		}
		m := oMeta[s]
		n := int32(len(c.meta))
		c.terms = append(c.terms, old.termsOf(int32(s))...)
		m.termsEnd = uint32(len(c.terms))
		c.meta = append(c.meta, m)
		c.seqs = append(c.seqs, oSeqs[s])
		c.lens = append(c.lens, oLens[s])
		c.liveSlot = append(c.liveSlot, true)
		if c.dim > 0 {
			var v []float32
			if m.hasVec {
				v = old.vector(int32(s))
			}
			c.appendVector(v)
		}
		c.bySeq[oSeqs[s]] = n
		sumLen += float64(oLens[s])
	}
	c.sumLen = sumLen // recomputed, so float drift from kills does not build up
	c.segs, c.tail, c.tailPosts, c.tailBase = nil, map[uint32][]posting{}, 0, 0
	c.deadDF = map[uint32]int32{}
	if len(c.meta) > 0 {
		c.segs = []*segment{c.buildSegment(0, int32(len(c.meta)))}
		c.tailBase = int32(len(c.meta))
	}
}

// doc returns a copy of the doc in slot s, without its Terms (Get decodes
// those of all its docs into one array).
func (c *conversation) doc(s int32, vectors bool) retrieval.Doc {
	m := &c.meta[s]
	sp := c.speakers[m.speaker]
	d := retrieval.Doc{
		Seq: c.seqs[s], Role: sp.role, Name: sp.name,
		Content: m.text[:m.capAt], Caption: m.text[m.capAt:],
		Tokens: int(m.tokens), LineTokens: int(m.lineTokens), Length: int(m.length),
	}
	if m.unixSec != 0 || m.unixNsec != 0 {
		d.CreatedAt = time.Unix(m.unixSec, int64(m.unixNsec)).UTC()
	}
	if vectors && m.hasVec {
		d.Dense = slices.Clone(c.vector(s))
	}
	return d
}

// post adds slot's terms to the tail's posting lists.
func (c *conversation) post(slot int32, terms []retrieval.TermFreq) {
	for _, tf := range terms {
		if tf.Count == 0 {
			continue
		}
		c.tail[tf.ID] = append(c.tail[tf.ID], posting{slot: slot, tf: tf.Count})
		c.tailPosts++
	}
}

// flushTail folds the tail into a new segment and merges segments so that
// each is more than twice the size of the next (a binary counter: a
// conversation of n slots has O(log n) segments, and each posting is
// re-encoded O(log n) times over its life).
func (c *conversation) flushTail() {
	end := int32(len(c.meta))
	if end == c.tailBase {
		return
	}
	seg := encodeTail(c.tail, c.tailBase, end, c.keep)
	c.tail, c.tailPosts, c.tailBase = map[uint32][]posting{}, 0, end
	c.segs = append(c.segs, seg)
	for n := len(c.segs); n >= 2 && c.segs[n-2].slots() <= 2*c.segs[n-1].slots(); n = len(c.segs) {
		c.segs = append(c.segs[:n-2], mergeSegments(c.segs[n-2], c.segs[n-1], c.keep))
	}
}

// keep reports whether a posting of term id is of a live doc; a dead one
// is dropped, so it leaves deadDF.
func (c *conversation) keep(id uint32, p posting) bool {
	if c.liveSlot[p.slot] {
		return true
	}
	if n := c.deadDF[id] - 1; n > 0 {
		c.deadDF[id] = n
	} else {
		delete(c.deadDF, id)
	}
	return false
}

// buildSegment encodes the postings of the live docs in slots [from, to)
// from their stored terms.
func (c *conversation) buildSegment(from, to int32) *segment {
	tail := map[uint32][]posting{}
	for s := from; s < to; s++ {
		if !c.liveSlot[s] {
			continue
		}
		eachTerm(c.termsOf(s), func(id, n uint32) {
			if n > 0 {
				tail[id] = append(tail[id], posting{slot: s, tf: n})
			}
		})
	}
	return encodeTail(tail, from, to, func(uint32, posting) bool { return true })
}

// bytes estimates the heap the conversation holds: its arrays (by
// capacity), the texts of its live docs, and its maps.
func (c *conversation) bytes() int64 {
	const mapEntry = 24 // a small map entry with its share of the table's slack
	n := int64(unsafe.Sizeof(*c)) + int64(cap(c.meta))*int64(unsafe.Sizeof(slotMeta{})) +
		int64(cap(c.seqs))*8 + int64(cap(c.lens))*4 + int64(cap(c.liveSlot)) +
		c.textBytes + int64(cap(c.terms)) + int64(cap(c.invNorm))*4 +
		int64(len(c.bySeq))*mapEntry + int64(len(c.spIndex))*(mapEntry+32)
	for _, sp := range c.speakers {
		n += int64(len(sp.role) + len(sp.name))
	}
	for _, v := range c.vecs {
		n += int64(cap(v)) * 4
	}
	for _, s := range c.segs {
		n += s.bytes()
	}
	// A tail list of n postings has a capacity below 2n (append doubling).
	n += int64(len(c.tail))*(mapEntry+24) + int64(c.tailPosts)*2*int64(unsafe.Sizeof(posting{}))
	n += int64(len(c.deadDF)) * mapEntry
	return n
}
