package retrieval

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"math"
	"os"
	"strconv"

	"github.com/dlclark/regexp2"
	"github.com/pkoukk/tiktoken-go"
	tiktokenloader "github.com/pkoukk/tiktoken-go-loader"
)

// Split patterns of the built-in encodings (from OpenAI's tiktoken).
const (
	patternCL100K = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	patternO200K  = `[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?` +
		`|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?` +
		`|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`
)

// TokenizerConfig selects the encoding used to count tokens. The zero value
// is cl100k_base. Nothing is downloaded: the built-in encodings ship inside
// the binary, and a custom one is read from a local file.
type TokenizerConfig struct {
	// Encoding is "cl100k_base" (default) or "o200k_base". Ignored when
	// RanksFile is set.
	Encoding string `yaml:"encoding" json:"encoding,omitempty"`
	// RanksFile is a tiktoken-format ranks file ("<base64 token> <rank>"
	// per line), such as Hunyuan's hy.tiktoken or Qwen's qwen.tiktoken.
	RanksFile string `yaml:"ranks_file" json:"ranks_file,omitempty"`
	// Pattern is the pre-tokenisation split regex of RanksFile (default:
	// the cl100k_base pattern).
	Pattern string `yaml:"pattern" json:"pattern,omitempty"`
	// SpecialTokens of RanksFile, token → id. Accepted for compatibility
	// with tiktoken configurations and unused: counting treats
	// special-token text as ordinary text.
	SpecialTokens map[string]int `yaml:"special_tokens" json:"special_tokens,omitempty"`
}

// Validate reports a configuration that cannot work.
func (c TokenizerConfig) Validate() error {
	if c.RanksFile != "" {
		return nil
	}
	switch c.Encoding {
	case "", tiktoken.MODEL_CL100K_BASE, tiktoken.MODEL_O200K_BASE:
		return nil
	}
	return fmt.Errorf("tokenizer: unknown encoding %q (want cl100k_base, o200k_base, or ranks_file with a path)", c.Encoding)
}

// BPETokenizer counts tokens with a byte-pair encoding. Safe for concurrent
// use.
//
// Count gives exactly the number of tokens tiktoken's encoder gives, in time
// O(n log n) in the text's length: the merge of each pre-tokenizer piece
// keeps its pairs in a heap instead of rescanning the piece after every
// merge (tiktoken's loop is quadratic: one 64 KiB word cost over a second).
type BPETokenizer struct {
	name  string
	split *regexp2.Regexp
	ranks map[string]int
}

var _ Tokenizer = (*BPETokenizer)(nil)

// NewTokenizer loads the encoding cfg names. Loading parses the ranks (tens
// of milliseconds); build one per process and share it.
func NewTokenizer(cfg TokenizerConfig) (*BPETokenizer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var (
		name    string
		ranks   map[string]int
		pattern string
		err     error
	)
	switch {
	case cfg.RanksFile != "":
		name = cfg.RanksFile
		ranks, err = readRanksFile(cfg.RanksFile)
		pattern = cfg.Pattern
		if pattern == "" {
			pattern = patternCL100K
		}
	case cfg.Encoding == tiktoken.MODEL_O200K_BASE:
		name, pattern = tiktoken.MODEL_O200K_BASE, patternO200K
		ranks, err = tiktokenloader.NewOfflineLoader().LoadTiktokenBpe("o200k_base.tiktoken")
	default:
		name, pattern = tiktoken.MODEL_CL100K_BASE, patternCL100K
		ranks, err = tiktokenloader.NewOfflineLoader().LoadTiktokenBpe("cl100k_base.tiktoken")
	}
	if err != nil {
		return nil, fmt.Errorf("tokenizer: load %s: %w", name, err)
	}
	split, err := regexp2.Compile(pattern, regexp2.None)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: split pattern: %w", name, err)
	}
	return &BPETokenizer{name: name, split: split, ranks: ranks}, nil
}

// Count returns the number of tokens of text (special-token text counts as
// ordinary text).
func (t *BPETokenizer) Count(text string) int {
	n := 0
	m, _ := t.split.FindStringMatch(text)
	for m != nil {
		n += bpeCount(m.String(), t.ranks)
		m, _ = t.split.FindNextMatch(m)
	}
	return n
}

// bpeCount is the number of tokens byte-pair encoding makes of piece:
// tiktoken's merge order (the adjacent pair of lowest rank first, the
// leftmost of equal ranks). A short piece is merged by rescanning, as
// tiktoken does; a longer one keeps its candidate pairs in a heap, so the
// cost is O(n log n) instead of O(n²).
func bpeCount(piece string, ranks map[string]int) int {
	n := len(piece)
	if n <= 1 {
		return n
	}
	if _, ok := ranks[piece]; ok {
		return 1
	}
	if n <= shortPiece {
		return bpeCountShort(piece, ranks)
	}
	return bpeCountLong(piece, ranks)
}

// shortPiece is the longest piece merged by rescanning.
const shortPiece = 32

// noRank marks a pair whose concatenation is no token.
const noRank = math.MaxInt

// bpeCountShort is tiktoken's loop over at most shortPiece bytes, without
// allocating: starts[i] is where part i begins, rank[i] the rank of part i
// merged with part i+1.
func bpeCountShort(piece string, ranks map[string]int) int {
	var startsBuf, rankBuf [shortPiece + 1]int
	starts, rank := startsBuf[:len(piece)+1], rankBuf[:len(piece)+1]
	for i := range starts {
		starts[i] = i
	}
	pairRank := func(i int) int {
		if i+2 >= len(starts) {
			return noRank
		}
		if r, ok := ranks[piece[starts[i]:starts[i+2]]]; ok {
			return r
		}
		return noRank
	}
	for i := range rank {
		rank[i] = pairRank(i)
	}
	for {
		best := -1
		for i := 0; i+1 < len(starts)-1; i++ {
			if rank[i] != noRank && (best < 0 || rank[i] < rank[best]) {
				best = i
			}
		}
		if best < 0 {
			return len(starts) - 1
		}
		starts = append(starts[:best+1], starts[best+2:]...)
		rank = append(rank[:best+1], rank[best+2:]...)
		rank[best] = pairRank(best)
		if best > 0 {
			rank[best-1] = pairRank(best - 1)
		}
	}
}

// bpeCountLong merges over a linked list of parts — part i (alive[i])
// spans bytes [i, next[i]) — with the candidate pairs in a min-heap of
// (rank, start); an entry whose part has merged or whose pair has changed
// since it was pushed is skipped when popped.
func bpeCountLong(piece string, ranks map[string]int) int {
	n := len(piece)
	next := make([]int32, n)
	prev := make([]int32, n)
	rank := make([]int, n)
	for i := range n {
		next[i], prev[i] = int32(i+1), int32(i-1)
	}
	pairRank := func(i int32) int {
		j := next[i]
		if int(j) >= n {
			return noRank
		}
		end := n
		if int(j) < n {
			end = int(next[j])
		}
		if r, ok := ranks[piece[i:end]]; ok {
			return r
		}
		return noRank
	}
	h := pairHeap(make([]pair, 0, n))
	for i := range int32(n) {
		rank[i] = pairRank(i)
		if rank[i] != noRank {
			h = append(h, pair{rank[i], i})
		}
	}
	h.init()
	parts := n
	for len(h) > 0 {
		p := h.pop()
		i := p.start
		if next[i] < 0 || rank[i] != p.rank {
			continue // stale
		}
		j := next[i] // merge part j into part i
		next[i] = next[j]
		next[j] = -1 // dead
		if int(next[i]) < n {
			prev[next[i]] = i
		}
		parts--
		rank[i] = pairRank(i)
		if rank[i] != noRank {
			h.push(pair{rank[i], i})
		}
		if k := prev[i]; k >= 0 {
			rank[k] = pairRank(k)
			if rank[k] != noRank {
				h.push(pair{rank[k], k})
			}
		}
	}
	return parts
}

// pair is a candidate merge: the part starting at byte start with the part
// after it, whose concatenation is the token of the given rank.
type pair struct {
	rank  int
	start int32
}

// pairHeap is a binary min-heap of pairs by (rank, start).
type pairHeap []pair

func (h pairHeap) less(a, b int) bool {
	return h[a].rank < h[b].rank || (h[a].rank == h[b].rank && h[a].start < h[b].start)
}

func (h pairHeap) init() {
	for i := len(h)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
}

func (h *pairHeap) push(p pair) {
	*h = append(*h, p)
	s := *h
	for i := len(s) - 1; i > 0; {
		parent := (i - 1) / 2
		if !s.less(i, parent) {
			break
		}
		s[i], s[parent] = s[parent], s[i]
		i = parent
	}
}

func (h *pairHeap) pop() pair {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	*h = s[:last]
	h.down(0)
	return top
}

func (h pairHeap) down(i int) {
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		m := l
		if r := l + 1; r < len(h) && h.less(r, l) {
			m = r
		}
		if !h.less(m, i) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

// Name is the encoding's name, or the ranks file's path.
func (t *BPETokenizer) Name() string { return t.name }

// readRanksFile parses a tiktoken ranks file: "<base64 token> <rank>" lines.
func readRanksFile(path string) (map[string]int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	ranks := make(map[string]int, bytes.Count(data, []byte{'\n'})+1)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	line := 0
	for sc.Scan() {
		line++
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		tok, rank, ok := bytes.Cut(text, []byte{' '})
		if !ok {
			return nil, fmt.Errorf("%s:%d: want \"<base64 token> <rank>\"", path, line)
		}
		raw, err := base64.StdEncoding.DecodeString(string(tok))
		if err != nil {
			return nil, fmt.Errorf("%s:%d: token is not base64: %w", path, line, err)
		}
		r, err := strconv.Atoi(string(bytes.TrimSpace(rank)))
		if err != nil {
			return nil, fmt.Errorf("%s:%d: rank is not an integer: %w", path, line, err)
		}
		ranks[string(raw)] = r
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(ranks) == 0 {
		return nil, fmt.Errorf("%s: no ranks in file", path)
	}
	return ranks, nil
}
