package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/longmem/longmem/compaction"
	"github.com/longmem/longmem/memory/embedded"
	"github.com/longmem/longmem/retrieval"
	"github.com/longmem/longmem/retrieval/replay"
)

// intList is a repeatable integer flag.
type intList []int

func (l *intList) String() string { return fmt.Sprint(*l) }
func (l *intList) Set(s string) error {
	for _, p := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n <= 0 {
			return fmt.Errorf("%q is not a positive number of tokens", p)
		}
		*l = append(*l, n)
	}
	return nil
}

// runReplay is `longmem replay`.
func runReplay(ctx context.Context, args []string, stdout, stderr io.Writer, env map[string]string) int {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		budgets  intList
		format   = fs.String("format", "locomo", "input format: locomo or memdaily")
		input    = fs.String("input", "", "dataset file (required)")
		out      = fs.String("out", "replay-out", "directory for report.json and questions.jsonl")
		embedder = fs.String("embedder", "none", "none, static:PATH (GloVe/word2vec/fastText text, wink JSON) or openai:URL")
		model    = fs.String("embedder-model", "", "model name for openai:URL")
		haystack = fs.Int("haystack", 0, "bury each conversation among the others' sessions until it holds this many turns")
		config   = fs.String("config", "", "YAML config file as for serve; its tokenizer and recall sections apply")
		minRec   = fs.Float64("min-recall", 0, "exit 3 when longmem's evidence recall at any budget is below this")
		progress = fs.Bool("progress", isTerminal(stderr), "draw a progress bar on stderr (default: when stderr is a terminal)")
		sumTok   = fs.Int("summary-tokens", 128, "token target of a level-0 summary when --summaries on (compaction summary_tokens)")
		sums     = fs.String("summaries", "on", "on: compact each conversation (extractive summaries) before its questions and also run longmem without summaries (longmem-nosum); off: no summaries")
	)
	fs.Var(&budgets, "budget", "token budget; repeat or comma-separate for several (default 2048)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: longmem replay --input FILE [--format locomo|memdaily] [--budget N …] [--out DIR] [flags]\n\n"+
			"Replays each conversation through the store, the index and the assembler in process,\n"+
			"asks every question at the end, and measures the evidence recall of longmem against\n"+
			"recency, plain BM25 (and dense, with an embedder) on the same budgets.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *input == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "longmem replay: --input FILE is required (and no positional arguments)")
		fs.Usage()
		return 2
	}
	if *sums != "on" && *sums != "off" {
		fmt.Fprintf(stderr, "longmem replay: --summaries %q: want on or off\n", *sums)
		return 2
	}
	if len(budgets) == 0 {
		budgets = intList{2048}
	}
	cfg := defaultConfig()
	if *config != "" {
		if err := readConfigFile(*config, &cfg); err != nil {
			fmt.Fprintf(stderr, "longmem replay: %v\n", err)
			return 1
		}
	}
	if err := parseEmbedderSpec(*embedder, &cfg.Recall.Embedder); err != nil {
		fmt.Fprintf(stderr, "longmem replay: %v\n", err)
		return 2
	}
	if *model != "" {
		cfg.Recall.Embedder.Model = *model
	}
	if k, ok := env["LONGMEM_EMBEDDER_KEY"]; ok {
		cfg.Recall.Embedder.Key = k
	}
	if err := replayRun(ctx, cfg, *format, *input, *out, *haystack, budgets, *minRec, *progress, *sums == "on", *sumTok, stdout, stderr); err != nil {
		var low errLowRecall
		if errors.As(err, &low) {
			fmt.Fprintf(stderr, "longmem replay: %v\n", err)
			return 3
		}
		fmt.Fprintf(stderr, "longmem replay: %v\n", err)
		return 1
	}
	return 0
}

type errLowRecall struct{ msg string }

func (e errLowRecall) Error() string { return e.msg }

func replayRun(ctx context.Context, cfg Config, format, input, out string, haystack int, budgets []int, minRecall float64, progress, summaries bool, summaryTokens int, stdout, stderr io.Writer) error {
	if err := errors.Join(cfg.Tokenizer.Validate(), cfg.Recall.Validate()); err != nil {
		return err
	}
	var (
		convs []replay.Conversation
		err   error
	)
	switch format {
	case "locomo":
		convs, err = replay.LoadLoCoMo(input)
	case "memdaily":
		convs, err = replay.LoadMemDaily(input)
	default:
		return fmt.Errorf("unknown --format %q (want locomo or memdaily)", format)
	}
	if err != nil {
		return err
	}
	if haystack > 0 {
		convs = replay.Haystack(convs, haystack)
	}
	tok, err := retrieval.NewTokenizer(cfg.Tokenizer)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "longmem-replay-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	store, err := embedded.Open(embedded.Config{Dir: dir})
	if err != nil {
		return err
	}
	defer store.Close()
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	rc, err := openRecall(ctx, cfg.Recall, store, tok, logger)
	if err != nil {
		return err
	}
	defer rc.index.Close()
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	qf, err := os.Create(filepath.Join(out, "questions.jsonl"))
	if err != nil {
		return err
	}
	defer qf.Close()
	rcfg := replay.Config{Budgets: budgets, Store: store, Indexer: rc.indexer, Index: rc.index,
		Longmem:   []replay.Longmem{{Name: replay.StrategyLongmem, Assembler: rc.assembler, NoSummaries: !summaries, CompareNoSummaries: summaries}},
		Tokenizer: tok, Analyzer: rc.analyzer, Embedder: rc.embedder, Questions: qf,
		MessageOverhead: cfg.Recall.Assembler.Budget.MessageOverhead}
	if summaries {
		w, err := compaction.NewWorker(compaction.Config{SummaryTokens: summaryTokens}, compaction.Deps{Store: store, Tokenizer: tok,
			Summarizer: compaction.NewExtractive(tok), Queue: compaction.NewMemQueue(), Logger: logger})
		if err != nil {
			return err
		}
		rcfg.Compact = func(ctx context.Context, tenant, id string) error {
			_, err := w.CompactNow(ctx, tenant, id)
			return err
		}
	}
	if progress {
		rcfg.Progress = stderr
	}
	rep, err := replay.Run(ctx, rcfg, format, convs)
	if err != nil {
		return err
	}
	rep.Haystack = haystack
	if cfg.Recall.Embedder.Kind != "" {
		rep.Embedder = cfg.Recall.Embedder.Kind
	}
	raw, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "report.json"), append(raw, '\n'), 0o644); err != nil {
		return err
	}
	if err := qf.Close(); err != nil {
		return err
	}
	fmt.Fprint(stdout, replay.Summary(rep))
	fmt.Fprintf(stdout, "wrote %s and %s\n", filepath.Join(out, "report.json"), filepath.Join(out, "questions.jsonl"))
	if minRecall > 0 {
		for _, b := range rep.Budgets {
			if r := b.Strategies[replay.StrategyLongmem].EvidenceRecall; r < minRecall {
				return errLowRecall{fmt.Sprintf("evidence recall %.3f at %d tokens is below --min-recall %.3f", r, b.BudgetTokens, minRecall)}
			}
		}
	}
	return nil
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
