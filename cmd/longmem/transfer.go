package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"

	"github.com/longmem/longmem/bots"
	"github.com/longmem/longmem/memory"
)

// record is one line of longmem's export format (JSONL). Per tenant, in
// the order --tenants lists them: every bot ("bot", latest version), then
// "bots_done"; then every conversation in ascending id order: the
// "conversation", its "turn"s in seq order, its "summary"s (level by
// level, each in seq order) and "done". A "bots_done" or "done" line is a
// checkpoint: export --resume continues after the last one.
type record struct {
	Kind         string               `json:"kind"`
	Tenant       string               `json:"tenant"`
	Bot          *bots.Bot            `json:"bot,omitempty"`
	Conversation *memory.Conversation `json:"conversation,omitempty"`
	Turn         *memory.Turn         `json:"turn,omitempty"`
	Summary      *memory.Summary      `json:"summary,omitempty"`
	ID           string               `json:"conversation_id,omitempty"` // of "done"
}

// Record kinds.
const (
	kindBot          = "bot"
	kindBotsDone     = "bots_done"
	kindConversation = "conversation"
	kindTurn         = "turn"
	kindSummary      = "summary"
	kindDone         = "done"
)

// transferFlags are serve's storage flags (and config file and env) plus
// those of export or import.
func transferFlags(name string, stderr io.Writer) *serveFlags {
	f := newServeFlags(stderr)
	f.fs.Init(name, flag.ContinueOnError)
	return f
}

// openStorage opens the memory and bot stores cfg names.
func openStorage(ctx context.Context, cfg StorageConfig) (memory.Store, bots.Store, error) {
	store, err := openStore(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, nil, err
	}
	bs, err := openBots(ctx, cfg)
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	return store, bs, nil
}

// checkpoint is where an export stopped: after tenant index ti's bots
// (conv empty) or after its conversation conv.
type checkpoint struct {
	ti       int
	conv     string
	botsDone bool
}

// lastCheckpoint reads an export and returns the byte offset just after
// its last checkpoint line and what it marks (ti < 0: none).
func lastCheckpoint(r io.Reader, tenants []string) (int64, checkpoint, error) {
	cp := checkpoint{ti: -1}
	var off, end int64
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 && line[len(line)-1] == '\n' {
			off += int64(len(line))
			var rec record
			if json.Unmarshal(line, &rec) == nil && (rec.Kind == kindBotsDone || rec.Kind == kindDone) {
				ti := slices.Index(tenants, rec.Tenant)
				if ti < 0 {
					return 0, cp, fmt.Errorf("the export has tenant %q, not in --tenants", rec.Tenant)
				}
				cp = checkpoint{ti: ti, conv: rec.ID, botsDone: true}
				end = off
			}
		}
		if errors.Is(err, io.EOF) {
			return end, cp, nil
		}
		if err != nil {
			return 0, cp, err
		}
	}
}

func runExport(ctx context.Context, args []string, _, stderr io.Writer, env map[string]string) int {
	f := transferFlags("export", stderr)
	out := f.fs.String("out", "", "output file (JSONL; required)")
	tenantList := f.fs.String("tenants", "", "comma-separated tenants to export (the empty tenant, of servers without API keys, is the default)")
	resume := f.fs.Bool("resume", false, "continue an interrupted export of --out after its last complete conversation")
	const usage = "Usage: longmem export --out FILE [--tenants a,b] [--resume] [storage flags]\n\nWrite conversations (turns with their seqs and times, summaries) and bots as JSONL,\nstreaming, from the storage serve would use (an embedded data directory must not be\nserved at the same time)."
	if code := parseCommand(f.fs, args, usage, stderr, "out"); code >= 0 {
		return code
	}
	// Not splitList: an empty item is the empty tenant.
	tenants := strings.Split(*tenantList, ",")
	for i := range tenants {
		tenants[i] = strings.TrimSpace(tenants[i])
	}
	if err := export(ctx, f, env, *out, tenants, *resume); err != nil {
		fmt.Fprintf(stderr, "longmem export: %v\n", err)
		return 1
	}
	return 0
}

// parseCommand parses a subcommand's args with fs, whose Usage prints
// usage and then the flags; flags named in required must be set. It
// returns an exit code, or -1 to go on.
func parseCommand(fs *flag.FlagSet, args []string, usage string, stderr io.Writer, required ...string) int {
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "%s\n\nFlags:\n", usage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "longmem %s: unexpected arguments %q\n", fs.Name(), fs.Args())
		return 2
	}
	for _, name := range required {
		if fs.Lookup(name).Value.String() == "" {
			fmt.Fprintf(stderr, "longmem %s: --%s is required\n", fs.Name(), name)
			return 2
		}
	}
	return -1
}

func export(ctx context.Context, f *serveFlags, env map[string]string, path string, tenants []string, resume bool) error {
	cfg, err := loadConfig(f, env)
	if err != nil {
		return err
	}
	cp := checkpoint{ti: -1}
	flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if resume {
		flags = os.O_CREATE | os.O_RDWR
	}
	file, err := os.OpenFile(path, flags, 0o600)
	if err != nil {
		return err
	}
	defer file.Close()
	if resume {
		end, c, err := lastCheckpoint(file, tenants)
		if err != nil {
			return fmt.Errorf("resume %s: %w", path, err)
		}
		if err := file.Truncate(end); err != nil {
			return err
		}
		if _, err := file.Seek(end, io.SeekStart); err != nil {
			return err
		}
		cp = c
	}
	store, bs, err := openStorage(ctx, cfg.Storage)
	if err != nil {
		return err
	}
	defer store.Close()
	defer bs.Close()
	w := bufio.NewWriterSize(file, 1<<20)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	put := func(r record) error { return enc.Encode(r) }
	for ti, tenant := range tenants {
		if ti < cp.ti {
			continue
		}
		after := ""
		if ti == cp.ti {
			after = cp.conv
		}
		if ti > cp.ti || !cp.botsDone {
			if err := exportBots(ctx, bs, tenant, put); err != nil {
				return err
			}
		}
		if err := exportConversations(ctx, store, tenant, after, put, w.Flush); err != nil {
			return err
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return file.Sync()
}

func exportBots(ctx context.Context, bs bots.Store, tenant string, put func(record) error) error {
	for after := ""; ; {
		page, err := bs.List(ctx, bots.ListOptions{Tenant: tenant, After: after, Limit: memory.MaxListLimit})
		if err != nil {
			return err
		}
		for i := range page {
			if err := put(record{Kind: kindBot, Tenant: tenant, Bot: &page[i]}); err != nil {
				return err
			}
		}
		if len(page) < memory.MaxListLimit {
			return put(record{Kind: kindBotsDone, Tenant: tenant})
		}
		after = page[len(page)-1].ID
	}
}

// exportConversations writes the tenant's conversations with ids above
// after; flush runs after each conversation's checkpoint.
func exportConversations(ctx context.Context, store memory.Store, tenant, after string, put func(record) error, flush func() error) error {
	ss, _ := store.(memory.SummaryStore)
	for {
		page, err := store.ListConversations(ctx, memory.ListOptions{Tenant: tenant, After: after, Limit: memory.MaxListLimit})
		if err != nil {
			return err
		}
		if len(page) == 0 {
			return nil
		}
		for i := range page {
			c := &page[i]
			if err := put(record{Kind: kindConversation, Tenant: tenant, Conversation: c}); err != nil {
				return err
			}
			for from := int64(0); ; {
				turns, err := store.Turns(ctx, tenant, c.ID, from, memory.MaxListLimit)
				if err != nil {
					return err
				}
				for j := range turns {
					if err := put(record{Kind: kindTurn, Tenant: tenant, Turn: &turns[j]}); err != nil {
						return err
					}
				}
				if len(turns) < memory.MaxListLimit {
					break
				}
				from = turns[len(turns)-1].Seq
			}
			if ss != nil {
				sums, err := ss.Summaries(ctx, tenant, c.ID)
				if err != nil {
					return err
				}
				for j := range sums {
					if err := put(record{Kind: kindSummary, Tenant: tenant, Summary: &sums[j]}); err != nil {
						return err
					}
				}
			}
			if err := put(record{Kind: kindDone, Tenant: tenant, ID: c.ID}); err != nil {
				return err
			}
			if err := flush(); err != nil {
				return err
			}
		}
		after = page[len(page)-1].ID
	}
}

func runImport(ctx context.Context, args []string, stdout, stderr io.Writer, env map[string]string) int {
	f := transferFlags("import", stderr)
	in := f.fs.String("in", "", "input file (JSONL from longmem export; required)")
	const usage = "Usage: longmem import --in FILE [storage flags]\n\nLoad an export into the storage serve would use. Idempotent: what is already there\n(bots, conversations, turns by seq, summaries) is skipped, so an interrupted import\nis resumed by running it again."
	if code := parseCommand(f.fs, args, usage, stderr, "in"); code >= 0 {
		return code
	}
	n, err := importFile(ctx, f, env, *in)
	if err != nil {
		fmt.Fprintf(stderr, "longmem import: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "imported %d bots, %d conversations, %d turns, %d summaries (already there: %d bots, %d conversations, %d turns, %d summaries)\n",
		n.bots, n.convs, n.turns, n.sums, n.oldBots, n.oldConvs, n.oldTurns, n.oldSums)
	return 0
}

// importCounts counts what an import wrote and what it found already there.
type importCounts struct {
	bots, convs, turns, sums             int
	oldBots, oldConvs, oldTurns, oldSums int
}

// importBatch is how many turns one ImportTurns call stores at most.
const importBatch = 500

func importFile(ctx context.Context, f *serveFlags, env map[string]string, path string) (importCounts, error) {
	var n importCounts
	cfg, err := loadConfig(f, env)
	if err != nil {
		return n, err
	}
	file, err := os.Open(path)
	if err != nil {
		return n, err
	}
	defer file.Close()
	store, bs, err := openStorage(ctx, cfg.Storage)
	if err != nil {
		return n, err
	}
	defer store.Close()
	defer bs.Close()
	im, ok := store.(memory.TurnImporter)
	if !ok {
		return n, fmt.Errorf("the %s store cannot import turns with their seqs", cfg.Storage.Backend)
	}
	ss, _ := store.(memory.SummaryStore)
	var (
		conv  *memory.Conversation
		turns []memory.Turn
	)
	flush := func(lastSeq int64) error {
		if conv == nil || (len(turns) == 0 && lastSeq == 0) {
			return nil
		}
		if len(turns) > 0 {
			lastSeq = max(lastSeq, turns[len(turns)-1].Seq)
		}
		stored, err := im.ImportTurns(ctx, conv.Tenant, conv.ID, turns, lastSeq)
		if err != nil {
			return fmt.Errorf("conversation %q: %w", conv.ID, err)
		}
		n.turns += stored
		n.oldTurns += len(turns) - stored
		turns = turns[:0]
		return nil
	}
	sc := bufio.NewScanner(file)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var rec record
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return n, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		if err := importRecord(ctx, rec, store, bs, ss, &conv, &turns, flush, &n); err != nil {
			return n, fmt.Errorf("%s:%d: %w", path, line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return n, err
	}
	return n, flush(0)
}

// importRecord applies one record; conv and turns are the conversation
// being imported and its turns not yet stored.
func importRecord(ctx context.Context, rec record, store memory.Store, bs bots.Store, ss memory.SummaryStore,
	conv **memory.Conversation, turns *[]memory.Turn, flush func(int64) error, n *importCounts) error {
	switch rec.Kind {
	case kindBot:
		if rec.Bot == nil {
			return errors.New("bot record without a bot")
		}
		_, err := bs.Create(ctx, rec.Tenant, *rec.Bot, rec.Bot.Author)
		switch {
		case errors.Is(err, memory.ErrConflict):
			n.oldBots++
		case err != nil:
			return fmt.Errorf("bot %q: %w", rec.Bot.ID, err)
		default:
			n.bots++
		}
	case kindConversation:
		if rec.Conversation == nil {
			return errors.New("conversation record without a conversation")
		}
		c := *rec.Conversation
		c.Tenant = rec.Tenant
		_, err := store.CreateConversation(ctx, c)
		switch {
		case errors.Is(err, memory.ErrConflict):
			n.oldConvs++
		case err != nil:
			return fmt.Errorf("conversation %q: %w", c.ID, err)
		default:
			n.convs++
		}
		*conv, *turns = &c, (*turns)[:0]
	case kindTurn:
		if *conv == nil || rec.Turn == nil || rec.Turn.ConversationID != (*conv).ID {
			return errors.New("turn record outside its conversation")
		}
		*turns = append(*turns, *rec.Turn)
		if len(*turns) == importBatch {
			return flush((*turns)[len(*turns)-1].Seq)
		}
	case kindSummary:
		if *conv == nil || rec.Summary == nil || rec.Summary.ConversationID != (*conv).ID {
			return errors.New("summary record outside its conversation")
		}
		if err := flush(0); err != nil {
			return err
		}
		if ss == nil {
			return nil
		}
		_, err := ss.AddSummary(ctx, rec.Tenant, (*conv).ID, *rec.Summary)
		switch {
		case errors.Is(err, memory.ErrConflict):
			n.oldSums++
		case err != nil:
			return fmt.Errorf("summary %d %d..%d of %q: %w", rec.Summary.Level, rec.Summary.FromSeq, rec.Summary.ToSeq, (*conv).ID, err)
		default:
			n.sums++
		}
	case kindDone:
		if *conv == nil || rec.ID != (*conv).ID {
			return errors.New("done record outside its conversation")
		}
		if err := flush((*conv).LastSeq); err != nil {
			return err
		}
		*conv = nil
	case kindBotsDone:
	default:
		return fmt.Errorf("unknown record kind %q", rec.Kind)
	}
	return nil
}
