package embeddedindex

import (
	"encoding/binary"
	"slices"
	"unsafe"

	"github.com/longmem/longmem/retrieval"
)

// tailDocs is how many docs the mutable tail holds before it is folded
// into a segment.
const tailDocs = 64

// posting is one doc of a term's posting list: its slot and the term's
// count in it (> 0).
type posting struct {
	slot int32
	tf   uint32
}

// segment is the immutable inverted index of the slots [base, end): for
// each term id that occurs in a live doc of the range (ascending in ids),
// its posting list in data[ends[i-1]:ends[i]]. A list is uvarint(count)
// followed by count postings, each uvarint(gap<<1 | tf==1) and then
// uvarint(tf) when tf != 1, where gap is the slot less the previous slot of
// the list (less base for the first). Slots are ascending, so gaps are
// small; most tfs are 1 and cost no byte of their own. A term that occurs
// once in the segment costs 8 bytes of directory and usually two of list.
type segment struct {
	base, end int32
	ids       []uint32
	ends      []uint32
	data      []byte
}

// slots is the number of slots the segment covers.
func (s *segment) slots() int32 { return s.end - s.base }

// bytes is the heap the segment holds.
func (s *segment) bytes() int64 {
	return int64(unsafe.Sizeof(*s)) + int64(cap(s.ids))*4 + int64(cap(s.ends))*4 + int64(cap(s.data))
}

// list returns the encoded postings of term id, nil when it has none.
func (s *segment) list(id uint32) []byte {
	i, ok := search(s.ids, id)
	if !ok {
		return nil
	}
	start := uint32(0)
	if i > 0 {
		start = s.ends[i-1]
	}
	return s.data[start:s.ends[i]]
}

// search finds id in the ascending ids. Term ids are hashes, spread evenly
// over their range, so a few interpolation steps narrow the range to a
// handful of entries (a binary search of a large directory would take a
// cache miss per step); a bounded number of steps keeps the worst case of
// uneven ids logarithmic.
func search(ids []uint32, id uint32) (int, bool) {
	lo, hi := 0, len(ids) // id, if present, is in ids[lo:hi]
	for step := 0; hi-lo > 8 && step < 4; step++ {
		first, last := ids[lo], ids[hi-1]
		if id < first || id > last {
			return lo, false
		}
		g := lo + int(uint64(id-first)*uint64(hi-1-lo)/uint64(last-first))
		switch v := ids[g]; {
		case v < id:
			lo = g + 1
		case v > id:
			hi = g
		default:
			return g, true
		}
	}
	i, ok := slices.BinarySearch(ids[lo:hi], id)
	return lo + i, ok
}

// appendPosting encodes p after the posting at slot prev.
func appendPosting(buf []byte, prev int32, p posting) []byte {
	gap := uint64(p.slot-prev) << 1
	if p.tf == 1 {
		return binary.AppendUvarint(buf, gap|1)
	}
	buf = binary.AppendUvarint(buf, gap)
	return binary.AppendUvarint(buf, uint64(p.tf))
}

// listLen splits an encoded list into its posting count and postings.
func listLen(list []byte) (int, []byte) {
	n, k := binary.Uvarint(list)
	return int(n), list[k:]
}

// nextPosting decodes the posting at the start of enc, whose gap is from
// prev, and returns it with the rest of enc. Most postings are one byte
// (a gap below 64 and a tf of 1): that case is decoded inline.
func nextPosting(enc []byte, prev int32) (posting, []byte) {
	if b := enc[0]; b < 0x80 && b&1 == 1 {
		return posting{slot: prev + int32(b>>1), tf: 1}, enc[1:]
	}
	v, n := binary.Uvarint(enc)
	enc = enc[n:]
	p := posting{slot: prev + int32(v>>1), tf: 1}
	if v&1 == 0 {
		t, n := binary.Uvarint(enc)
		enc = enc[n:]
		p.tf = uint32(t)
	}
	return p, enc
}

// appendList appends the encoded list of the postings keep accepts.
// scratch holds them in between and is returned for reuse.
func appendList(data []byte, base int32, ps []posting, keep func(posting) bool, scratch []posting) ([]byte, []posting) {
	kept := scratch[:0]
	for _, p := range ps {
		if keep(p) {
			kept = append(kept, p)
		}
	}
	if len(kept) == 0 {
		return data, kept
	}
	data = binary.AppendUvarint(data, uint64(len(kept)))
	prev := base
	for _, p := range kept {
		data = appendPosting(data, prev, p)
		prev = p.slot
	}
	return data, kept
}

// decodeList appends the postings of a segment's list to dst.
func (s *segment) decodeList(dst []posting, list []byte) []posting {
	n, enc := listLen(list)
	prev := s.base
	for range n {
		var p posting
		p, enc = nextPosting(enc, prev)
		dst = append(dst, p)
		prev = p.slot
	}
	return dst
}

// keepFunc decides whether a posting of term id survives into a new
// segment.
type keepFunc func(id uint32, p posting) bool

// encodeTail builds the segment of slots [base, end) from posting lists
// keyed by term id, each ascending by slot, with the postings keep accepts.
func encodeTail(lists map[uint32][]posting, base, end int32, keep keepFunc) *segment {
	ids := make([]uint32, 0, len(lists))
	size := 0
	for id, ps := range lists {
		ids = append(ids, id)
		size += len(ps) + 2
	}
	slices.Sort(ids)
	seg := &segment{base: base, end: end, ids: ids[:0], ends: make([]uint32, 0, len(ids)), data: make([]byte, 0, size)}
	var scratch []posting
	for _, id := range ids {
		before := len(seg.data)
		seg.data, scratch = appendList(seg.data, base, lists[id], func(p posting) bool { return keep(id, p) }, scratch)
		if len(seg.data) > before {
			seg.ids = append(seg.ids, id)
			seg.ends = append(seg.ends, uint32(len(seg.data)))
		}
	}
	seg.ids, seg.ends, seg.data = slices.Clip(seg.ids), slices.Clip(seg.ends), slices.Clip(seg.data)
	return seg
}

// mergeSegments returns one segment for the consecutive segments a and b
// (a.end == b.base) with the postings keep accepts, leaving out terms left
// without postings.
func mergeSegments(a, b *segment, keep keepFunc) *segment {
	m := &segment{base: a.base, end: b.end,
		ids:  make([]uint32, 0, len(a.ids)+len(b.ids)),
		ends: make([]uint32, 0, len(a.ids)+len(b.ids)),
		data: make([]byte, 0, len(a.data)+len(b.data))}
	var buf, scratch []posting
	i, j := 0, 0
	for i < len(a.ids) || j < len(b.ids) {
		var id uint32
		switch {
		case j == len(b.ids) || (i < len(a.ids) && a.ids[i] < b.ids[j]):
			id = a.ids[i]
		default:
			id = b.ids[j]
		}
		buf = buf[:0]
		if i < len(a.ids) && a.ids[i] == id {
			buf = a.decodeList(buf, a.list(id))
			i++
		}
		if j < len(b.ids) && b.ids[j] == id {
			buf = b.decodeList(buf, b.list(id))
			j++
		}
		before := len(m.data)
		m.data, scratch = appendList(m.data, m.base, buf, func(p posting) bool { return keep(id, p) }, scratch)
		if len(m.data) > before {
			m.ids = append(m.ids, id)
			m.ends = append(m.ends, uint32(len(m.data)))
		}
	}
	m.ids, m.ends, m.data = slices.Clip(m.ids), slices.Clip(m.ends), slices.Clip(m.data)
	return m
}

// appendTerms encodes a doc's terms (strictly ascending by id): nothing
// when there are none, else uvarint(n), the n ids as 4-byte little-endian
// words (term ids are hashes: a gap between two would take as many bytes
// as a varint, and fixed words decode without a loop), then a
// uvarint(indexGap), uvarint(count) pair for each term whose count is not
// 1, indexGap being its index less the index after the previous such term.
func appendTerms(buf []byte, terms []retrieval.TermFreq) []byte {
	if len(terms) == 0 {
		return buf
	}
	buf = binary.AppendUvarint(buf, uint64(len(terms)))
	for _, t := range terms {
		buf = binary.LittleEndian.AppendUint32(buf, t.ID)
	}
	next := 0
	for i, t := range terms {
		if t.Count != 1 {
			buf = binary.AppendUvarint(buf, uint64(i-next))
			buf = binary.AppendUvarint(buf, uint64(t.Count))
			next = i + 1
		}
	}
	return buf
}

// appendDecodedTerms appends the terms encoded by appendTerms to dst.
func appendDecodedTerms(dst []retrieval.TermFreq, enc []byte) []retrieval.TermFreq {
	if len(enc) == 0 {
		return dst
	}
	n, k := binary.Uvarint(enc)
	enc = enc[k:]
	start := len(dst)
	for i := range int(n) {
		dst = append(dst, retrieval.TermFreq{ID: binary.LittleEndian.Uint32(enc[4*i:]), Count: 1})
	}
	enc = enc[4*n:]
	for next := 0; len(enc) > 0; {
		gap, k := binary.Uvarint(enc)
		enc = enc[k:]
		count, k := binary.Uvarint(enc)
		enc = enc[k:]
		i := next + int(gap)
		dst[start+i].Count = uint32(count)
		next = i + 1
	}
	return dst
}

// eachTerm calls fn with each term id and count encoded by appendTerms.
func eachTerm(enc []byte, fn func(id, count uint32)) {
	var stack [64]retrieval.TermFreq
	for _, t := range appendDecodedTerms(stack[:0], enc) {
		fn(t.ID, t.Count)
	}
}
