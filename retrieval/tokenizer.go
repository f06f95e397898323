package retrieval

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"strconv"

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
	// SpecialTokens of RanksFile, token → id. Only used to build the
	// encoder; counting treats special-token text as ordinary text.
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
type BPETokenizer struct {
	name string
	bpe  *tiktoken.Tiktoken
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
		special map[string]int
		err     error
	)
	switch {
	case cfg.RanksFile != "":
		name = cfg.RanksFile
		ranks, err = readRanksFile(cfg.RanksFile)
		pattern, special = cfg.Pattern, cfg.SpecialTokens
		if pattern == "" {
			pattern = patternCL100K
		}
	case cfg.Encoding == tiktoken.MODEL_O200K_BASE:
		name, pattern = tiktoken.MODEL_O200K_BASE, patternO200K
		special = map[string]int{tiktoken.ENDOFTEXT: 199999, tiktoken.ENDOFPROMPT: 200018}
		ranks, err = tiktokenloader.NewOfflineLoader().LoadTiktokenBpe("o200k_base.tiktoken")
	default:
		name, pattern = tiktoken.MODEL_CL100K_BASE, patternCL100K
		special = map[string]int{tiktoken.ENDOFTEXT: 100257, tiktoken.FIM_PREFIX: 100258,
			tiktoken.FIM_MIDDLE: 100259, tiktoken.FIM_SUFFIX: 100260, tiktoken.ENDOFPROMPT: 100276}
		ranks, err = tiktokenloader.NewOfflineLoader().LoadTiktokenBpe("cl100k_base.tiktoken")
	}
	if err != nil {
		return nil, fmt.Errorf("tokenizer: load %s: %w", name, err)
	}
	if special == nil {
		special = map[string]int{}
	}
	core, err := tiktoken.NewCoreBPE(ranks, special, pattern)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", name, err)
	}
	set := make(map[string]any, len(special))
	for k := range special {
		set[k] = nil
	}
	enc := &tiktoken.Encoding{Name: name, PatStr: pattern, MergeableRanks: ranks, SpecialTokens: special}
	return &BPETokenizer{name: name, bpe: tiktoken.NewTiktoken(core, enc, set)}, nil
}

// Count returns the number of tokens of text.
func (t *BPETokenizer) Count(text string) int {
	if text == "" {
		return 0
	}
	return len(t.bpe.EncodeOrdinary(text))
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
