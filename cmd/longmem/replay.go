package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/longmem/longmem/api"
	"github.com/longmem/longmem/bots/llm"
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

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }

// replayOptions are the flags of `longmem replay`.
type replayOptions struct {
	format, input, out string
	haystack           int
	budgets            []int
	configs            []string
	minRecall          float64
	progress           bool
	summaries          bool
	summaryTokens      int
	summaryTokensSet   bool // --summary-tokens given: it overrides the configs'
	server, key        string
	backendURL         string
	backendModel       string
	backendWindow      int
	judgeURL           string
	judgeModel         string
	concurrency        int
	retries            int
	resume             bool
	// args is the command line, for the report (secrets redacted).
	args []string
}

// redactArgs is args with the value of --key replaced.
func redactArgs(args []string) []string {
	out := slices.Clone(args)
	for i, a := range out {
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "key" {
			continue
		}
		if hasValue {
			out[i] = a[:strings.Index(a, "=")+1] + api.Redacted
		} else if i+1 < len(out) {
			out[i+1] = api.Redacted
		}
	}
	return out
}

// runReplay is `longmem replay`.
func runReplay(ctx context.Context, args []string, stdout, stderr io.Writer, env map[string]string) int {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		budgets  intList
		configs  stringList
		o        replayOptions
		sums     string
		embedder = fs.String("embedder", "none", "none, static:PATH (GloVe/word2vec/fastText text, wink JSON) or openai:URL")
		model    = fs.String("embedder-model", "", "model name for openai:URL")
		diff     = fs.Bool("diff", false, "compare two runs: longmem replay --diff A/report.json B/report.json")
	)
	fs.StringVar(&o.format, "format", "locomo", "input format: locomo, memdaily or jsonl (longmem's own, see the README)")
	fs.StringVar(&o.input, "input", "", "dataset file (a directory of *.jsonl files for --format jsonl; of *.json files, one conversation each, for --format memdaily) (required)")
	fs.StringVar(&o.out, "out", "replay-out", "directory for report.json, questions.jsonl and report.html")
	fs.IntVar(&o.haystack, "haystack", 0, "bury each conversation among the others' sessions until it holds this many turns")
	fs.Float64Var(&o.minRecall, "min-recall", 0, "exit 3 when longmem's evidence recall at any budget is below this")
	fs.BoolVar(&o.progress, "progress", isTerminal(stderr), "draw a progress bar on stderr (default: when stderr is a terminal)")
	fs.StringVar(&sums, "summaries", "on", "on: compact each conversation (extractive summaries) before its questions and also run longmem without summaries (longmem-nosum); off: no summaries")
	fs.IntVar(&o.summaryTokens, "summary-tokens", compaction.DefaultSummaryTokens, "token target of a level-0 summary with --summaries on (overrides each --config's compaction.summary_tokens)")
	fs.StringVar(&o.server, "server", "", "replay through the REST API of the longmem at this URL instead of in process")
	fs.StringVar(&o.key, "key", "", "API key for --server (or LONGMEM_REPLAY_KEY)")
	fs.StringVar(&o.backendURL, "backend-url", "", "OpenAI-compatible backend that answers each question from each context (end to end)")
	fs.StringVar(&o.backendModel, "backend-model", "", "model name for --backend-url")
	fs.IntVar(&o.backendWindow, "backend-window", 8192, "the backend's context window in tokens: full-context is not applicable beyond it")
	fs.StringVar(&o.judgeURL, "judge-url", "", "OpenAI-compatible judge (default: --backend-url)")
	fs.StringVar(&o.judgeModel, "judge-model", "", "model name for the judge (default: --backend-model)")
	fs.IntVar(&o.concurrency, "concurrency", 4, "questions answered and judged at once, end to end")
	fs.IntVar(&o.retries, "retries", 3, "retries of a backend or judge call after a connection error, 429 or 5xx")
	fs.BoolVar(&o.resume, "resume", false, "continue an interrupted run: keep OUT/questions.jsonl and skip the questions it holds")
	fs.Var(&budgets, "budget", "token budget; repeat or comma-separate for several (default 2048)")
	fs.Var(&configs, "config", "YAML config file as for serve (tokenizer, recall, compaction sections); repeat to compare several side by side")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: longmem replay --input FILE [--format locomo|memdaily|jsonl] [--budget N …] [--out DIR] [flags]\n"+
			"       longmem replay --diff A/report.json B/report.json\n\n"+
			"Replays each conversation through the store, the index and the assembler (in process, or a\n"+
			"server's REST API with --server), asks every question at the end, and measures what the\n"+
			"contexts hold against recency, plain BM25 (and dense, with an embedder) on the same budgets;\n"+
			"with --backend-url a backend answers from each context and an LLM judge grades it.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *diff {
		if fs.NArg() != 2 {
			fmt.Fprintln(stderr, "longmem replay: --diff takes two report.json paths")
			return 2
		}
		if err := replayDiff(fs.Arg(0), fs.Arg(1), stdout); err != nil {
			fmt.Fprintf(stderr, "longmem replay: %v\n", err)
			return 1
		}
		return 0
	}
	if o.input == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "longmem replay: --input FILE is required (and no positional arguments)")
		fs.Usage()
		return 2
	}
	if sums != "on" && sums != "off" {
		fmt.Fprintf(stderr, "longmem replay: --summaries %q: want on or off\n", sums)
		return 2
	}
	o.summaries = sums == "on"
	fs.Visit(func(f *flag.Flag) { o.summaryTokensSet = o.summaryTokensSet || f.Name == "summary-tokens" })
	if o.server != "" && len(configs) > 1 {
		fmt.Fprintln(stderr, "longmem replay: --server evaluates the server's own configuration: use at most one --config (for the tokenizer)")
		return 2
	}
	if o.concurrency < 1 {
		fmt.Fprintln(stderr, "longmem replay: --concurrency must be at least 1")
		return 2
	}
	if len(budgets) == 0 {
		budgets = intList{2048}
	}
	o.budgets, o.configs, o.args = budgets, configs, redactArgs(args)
	if o.key == "" {
		o.key = env["LONGMEM_REPLAY_KEY"]
	}
	cfgs := []Config{defaultConfig()}
	if len(configs) > 0 {
		cfgs = nil
		for _, path := range configs {
			c := defaultConfig()
			if err := readConfigFile(path, &c); err != nil {
				fmt.Fprintf(stderr, "longmem replay: %v\n", err)
				return 1
			}
			cfgs = append(cfgs, c)
		}
	}
	for i := range cfgs {
		if err := parseEmbedderSpec(*embedder, &cfgs[i].Recall.Embedder); err != nil {
			fmt.Fprintf(stderr, "longmem replay: %v\n", err)
			return 2
		}
		if *model != "" {
			cfgs[i].Recall.Embedder.Model = *model
		}
		if k, ok := env["LONGMEM_EMBEDDER_KEY"]; ok {
			cfgs[i].Recall.Embedder.Key = k
		}
	}
	if err := replayRun(ctx, cfgs, o, env, stdout, stderr); err != nil {
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

// judgeMaxTokens caps a judge's reply: a sentence and a JSON label.
const judgeMaxTokens = 128

type errLowRecall struct{ msg string }

func (e errLowRecall) Error() string { return e.msg }

// replayCompaction is the compaction a config gets in replay: its own
// compaction section, with --summary-tokens when given (or when the
// section sets no summary_tokens).
func replayCompaction(c Config, o replayOptions) compaction.Config {
	cc := c.Compaction.Config
	if o.summaryTokensSet || cc.SummaryTokens == 0 {
		cc.SummaryTokens = o.summaryTokens
	}
	return cc
}

// configNames names the --config files for the report: their base names
// without extension, made unique.
func configNames(paths []string) []string {
	var out []string
	seen := map[string]int{}
	for _, p := range paths {
		n := strings.TrimSuffix(filepath.Base(p), filepath.Ext(p))
		if seen[n]++; seen[n] > 1 {
			n = fmt.Sprintf("%s-%d", n, seen[n])
		}
		out = append(out, n)
	}
	return out
}

// llmAnswerer adapts the bots/llm client to replay.LLM.
type llmAnswerer struct {
	c         *llm.Client
	maxTokens int
}

func (a llmAnswerer) Complete(ctx context.Context, msgs []retrieval.Message) (string, error) {
	m := make([]llm.Message, len(msgs))
	for i, x := range msgs {
		m[i] = llm.Message{Role: x.Role, Name: x.Name, Content: x.Content}
	}
	resp, err := a.c.Complete(ctx, llm.ChatRequest{Messages: m, MaxTokens: a.maxTokens})
	return resp.Content, err
}

// llmJudge is the judge: an llmAnswerer that also asks for JSON output
// (replay.JSONCompleter; the client asks again without response_format
// when the server refuses it). Its client's Config.MaxTokens caps the
// reply.
type llmJudge struct{ llmAnswerer }

func (j llmJudge) CompleteJSON(ctx context.Context, msgs []retrieval.Message) (string, error) {
	m := make([]llm.Message, len(msgs))
	for i, x := range msgs {
		m[i] = llm.Message{Role: x.Role, Name: x.Name, Content: x.Content}
	}
	return j.c.CompleteJSON(ctx, m)
}

func loadDataset(format, input string) ([]replay.Conversation, error) {
	switch format {
	case "locomo":
		return replay.LoadLoCoMo(input)
	case "memdaily":
		return replay.LoadMemDaily(input)
	case "jsonl":
		return replay.LoadJSONL(input)
	}
	return nil, fmt.Errorf("unknown --format %q (want locomo, memdaily or jsonl)", format)
}

// readPrior reads the records of an interrupted run and rewrites the file
// with the complete ones only (a crash may have cut the last line).
func readPrior(path string) ([]replay.QuestionRecord, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []replay.QuestionRecord
	var keep bytes.Buffer
	for _, line := range bytes.Split(raw, []byte("\n")) {
		var r replay.QuestionRecord
		if len(bytes.TrimSpace(line)) == 0 || json.Unmarshal(line, &r) != nil || r.Strategies == nil {
			continue
		}
		out = append(out, r)
		keep.Write(line)
		keep.WriteByte('\n')
	}
	return out, os.WriteFile(path, keep.Bytes(), 0o644)
}

func replayRun(ctx context.Context, cfgs []Config, o replayOptions, env map[string]string, stdout, stderr io.Writer) error {
	cfg := cfgs[0]
	for i, c := range cfgs {
		if err := errors.Join(c.Tokenizer.Validate(), c.Recall.Validate(), replayCompaction(c, o).Validate()); err != nil {
			return err
		}
		// One store, one index and one tokenizer serve the run: the
		// first config's.
		if i > 0 && !reflect.DeepEqual([]any{c.Tokenizer, c.Recall.Index, c.Recall.MaxConversations, c.Recall.Qdrant, c.Recall.Embedder},
			[]any{cfg.Tokenizer, cfg.Recall.Index, cfg.Recall.MaxConversations, cfg.Recall.Qdrant, cfg.Recall.Embedder}) {
			fmt.Fprintf(stderr, "longmem replay: %s: its tokenizer, recall.index or recall.embedder differ from %s's and are not used: they come from the first config\n",
				o.configs[i], o.configs[0])
		}
	}
	convs, err := loadDataset(o.format, o.input)
	if err != nil {
		return err
	}
	if o.haystack > 0 {
		if len(convs) < 2 {
			// Burial takes other conversations' sessions; with one there
			// are none, and the report must not claim a haystack.
			return fmt.Errorf("--haystack needs at least two conversations to bury each among the others; %s holds %d", o.input, len(convs))
		}
		convs = replay.Haystack(convs, o.haystack)
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
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	qpath := filepath.Join(o.out, "questions.jsonl")
	var prior []replay.QuestionRecord
	if o.resume {
		if prior, err = readPrior(qpath); err != nil {
			return err
		}
	}
	flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if o.resume {
		flags = os.O_CREATE | os.O_WRONLY | os.O_APPEND
	}
	qf, err := os.OpenFile(qpath, flags, 0o644)
	if err != nil {
		return err
	}
	defer qf.Close()
	rcfg := replay.Config{Budgets: o.budgets, Store: store, Indexer: rc.indexer, Index: rc.index,
		Tokenizer: tok, Analyzer: rc.analyzer, Embedder: rc.embedder, Questions: qf, Prior: prior,
		Summaries: o.summaries, MessageOverhead: cfg.Recall.Assembler.Budget.MessageOverhead}
	var names []string
	switch {
	case o.server != "":
		cl, err := replay.NewClient(o.server, o.key, nil)
		if err != nil {
			return err
		}
		cl.Warn = func(msg string) { fmt.Fprintf(stderr, "longmem replay: %s\n", msg) }
		rcfg.Remote = cl
		rcfg.Longmem = []replay.Longmem{{Name: replay.StrategyLongmem, Assembler: cl}}
	case len(o.configs) > 1:
		names = configNames(o.configs)
		for i, c := range cfgs {
			rcfg.Longmem = append(rcfg.Longmem, replay.Longmem{Name: replay.StrategyLongmem + "@" + names[i],
				Assembler: retrieval.NewAssembler(c.Recall.Assembler, store, rc.indexer, tok), NoSummaries: !o.summaries, CompareNoSummaries: o.summaries})
		}
	default:
		rcfg.Longmem = []replay.Longmem{{Name: replay.StrategyLongmem, Assembler: rc.assembler, NoSummaries: !o.summaries, CompareNoSummaries: o.summaries}}
	}
	if o.summaries && o.server == "" {
		// Each config compacts with its own compaction section; configs
		// whose sections differ from the first's read their own copy of
		// each conversation (the summaries are per conversation).
		compactors := map[compaction.Config]func(ctx context.Context, tenant, id string) error{}
		for i, c := range cfgs {
			cc := replayCompaction(c, o)
			if c.Compaction.Summarizer == summarizerLLM && i < len(o.configs) {
				fmt.Fprintf(stderr, "longmem replay: %s: compaction.summarizer llm is not used: replay writes extractive summaries\n", o.configs[i])
			}
			compact, ok := compactors[cc]
			if !ok {
				w, err := compaction.NewWorker(cc, compaction.Deps{Store: store, Tokenizer: tok,
					Summarizer: compaction.NewExtractive(tok), Queue: compaction.NewMemQueue(), Logger: logger})
				if err != nil {
					return err
				}
				compact = func(ctx context.Context, tenant, id string) error {
					_, err := w.CompactNow(ctx, tenant, id)
					return err
				}
				compactors[cc] = compact
			}
			switch {
			case i == 0:
				rcfg.Compact = compact
			case cc != replayCompaction(cfgs[0], o):
				rcfg.Longmem[i].Compact = compact
				rcfg.Longmem[i].CopyKey = fmt.Sprintf("%+v", cc)
			}
		}
	}
	if o.backendURL != "" {
		if o.retries == 0 {
			o.retries = -1 // the client reads 0 as its default
		}
		temp := 0.0
		backend, err := llm.New(llm.Config{BaseURL: o.backendURL, Model: o.backendModel, APIKey: env["LONGMEM_BACKEND_KEY"],
			MaxRetries: o.retries, Temperature: &temp}, nil, nil)
		if err != nil {
			return fmt.Errorf("--backend-url: %w", err)
		}
		jcfg := llm.Config{BaseURL: o.judgeURL, Model: o.judgeModel, APIKey: env["LONGMEM_JUDGE_KEY"], MaxRetries: o.retries, Temperature: &temp,
			MaxTokens: judgeMaxTokens}
		if jcfg.BaseURL == "" {
			jcfg.BaseURL, jcfg.APIKey = o.backendURL, env["LONGMEM_BACKEND_KEY"]
		}
		if jcfg.Model == "" {
			jcfg.Model = o.backendModel
		}
		judge, err := llm.New(jcfg, nil, nil)
		if err != nil {
			return fmt.Errorf("--judge-url: %w", err)
		}
		rcfg.EndToEnd = &replay.EndToEnd{Backend: llmAnswerer{backend, 64}, Judge: llmJudge{llmAnswerer{judge, judgeMaxTokens}},
			Window: o.backendWindow, Concurrency: o.concurrency}
		if o.format == "locomo" {
			rcfg.EndToEnd.SkipJudging = []string{"5"} // adversarial, left out of the published J scores
		}
	}
	if o.progress {
		rcfg.Progress = stderr
	}
	rep, runErr := replay.Run(ctx, rcfg, o.format, convs)
	rep.Haystack, rep.Server, rep.Configs = o.haystack, o.server, names
	rep.Version, rep.Args, rep.Settings = versionLine(), o.args, map[string]string{}
	for i, c := range cfgs {
		name := "default"
		if i < len(o.configs) {
			name = configNames(o.configs)[i]
		}
		if y, err := c.YAML(); err == nil {
			rep.Settings[name] = string(y)
		}
	}
	if o.backendURL != "" {
		rep.BackendModel = cmp.Or(o.backendModel, "(default)")
		rep.JudgeModel = cmp.Or(o.judgeModel, rep.BackendModel)
	}
	if cfg.Recall.Embedder.Kind != "" {
		rep.Embedder = cfg.Recall.Embedder.Kind
	}
	if err := qf.Close(); err != nil {
		return err
	}
	if runErr != nil {
		return fmt.Errorf("%w (finished questions are in %s; --resume continues)", runErr, qpath)
	}
	raw, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(o.out, "report.json"), append(raw, '\n'), 0o644); err != nil {
		return err
	}
	records, err := replay.ReadRecords(qpath)
	if err != nil {
		return err
	}
	var page bytes.Buffer
	if err := replay.WriteHTML(&page, rep, records); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(o.out, "report.html"), page.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Fprint(stdout, replay.Summary(rep))
	fmt.Fprintf(stdout, "wrote %s, %s and %s\n", filepath.Join(o.out, "report.json"), qpath, filepath.Join(o.out, "report.html"))
	if o.minRecall > 0 {
		for _, b := range rep.Budgets {
			st := rcfg.Longmem[0].Name
			if r := b.Strategies[st].EvidenceRecall; r < o.minRecall {
				return errLowRecall{fmt.Sprintf("evidence recall %.3f of %s at %d tokens is below --min-recall %.3f", r, st, b.BudgetTokens, o.minRecall)}
			}
		}
	}
	return nil
}

// replayDiff prints what changed between two runs.
func replayDiff(a, b string, stdout io.Writer) error {
	ra, qa, err := replay.ReadRun(a)
	if err != nil {
		return err
	}
	rb, qb, err := replay.ReadRun(b)
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, replay.Diff(ra, qa, rb, qb))
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
