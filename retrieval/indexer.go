package retrieval

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/longmem/longmem/memory"
)

// captionKeys are the turn metadata keys read as an image caption, indexed
// with the turn and rendered after its content.
var captionKeys = []string{"caption", "image_caption", "alt_text"}

// Indexer keeps an Index in step with the Store. The Index is derived data:
// Sync brings a conversation's docs up to the store's last seq, reading only
// the turns after the index's watermark, so it serves three cases with one
// path: indexing after an append, catching up before a query, and rebuilding
// a conversation an in-memory index evicted or never saw since start.
//
// Safe for concurrent use; work on one conversation is serialised.
type Indexer struct {
	store    memory.Store
	index    Index
	analyzer *Analyzer
	tok      Tokenizer
	embedder Embedder // nil: lexical only
	// PageSize is how many turns one Sync step reads, embeds and upserts.
	pageSize int
	locks    [64]sync.Mutex
	pending  chan syncJob
	logger   *slog.Logger
	// timelines: every indexed turn's seq and time, per conversation, for
	// the session split (see sessions.go).
	timelines timelines
}

type syncJob struct {
	tenant, conv string
	lastSeq      int64
}

// NewIndexer wires an Indexer. tok counts the rendered recall lines once per
// turn; embedder may be nil.
func NewIndexer(store memory.Store, index Index, analyzer *Analyzer, tok Tokenizer, embedder Embedder) *Indexer {
	return &Indexer{store: store, index: index, analyzer: analyzer, tok: tok, embedder: embedder, pageSize: 512,
		pending: make(chan syncJob, 1024), logger: slog.New(slog.DiscardHandler)}
}

// SetLogger sets where Run reports failed background syncs.
func (ix *Indexer) SetLogger(l *slog.Logger) { ix.logger = l }

// Notify asks Run to index a conversation up to lastSeq soon. It never
// blocks: when the queue is full the request is dropped, which is safe
// because the assembler syncs before every query.
func (ix *Indexer) Notify(tenant, conv string, lastSeq int64) {
	select {
	case ix.pending <- syncJob{tenant, conv, lastSeq}:
	default:
	}
}

// Run indexes notified conversations in the background until ctx ends.
// Failures are logged and left to the next query's catch-up.
func (ix *Indexer) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case j := <-ix.pending:
			if _, err := ix.Sync(ctx, j.tenant, j.conv, j.lastSeq); err != nil && ctx.Err() == nil && !errors.Is(err, memory.ErrNotFound) {
				ix.logger.Warn("background indexing failed; the next query catches up", "conversation", j.conv, "err", err)
			}
		}
	}
}

func (ix *Indexer) lock(scoped string) *sync.Mutex {
	h := fnv.New32a()
	h.Write([]byte(scoped))
	return &ix.locks[h.Sum32()%uint32(len(ix.locks))]
}

// SyncConversation is Sync for a conversation as just read from the store.
// When this Indexer indexed a conversation of that id with another
// CreatedAt, that one was deleted (on another node sharing the store) and
// this is a new one: the old docs are dropped first, so none of them is
// ever recalled into the new conversation.
func (ix *Indexer) SyncConversation(ctx context.Context, tenant string, conv memory.Conversation) (int64, error) {
	scoped := ScopedID(tenant, conv.ID)
	tl := ix.timelines.get(scoped)
	tl.mu.Lock()
	same := tl.created.IsZero() || tl.created.Equal(conv.CreatedAt)
	tl.mu.Unlock()
	if !same {
		// Not a degraded index: recall must not go on with the old docs.
		if err := ix.Drop(ctx, tenant, conv.ID); err != nil {
			return 0, fmt.Errorf("retrieval: drop the index of a re-created %s: %w", conv.ID, err)
		}
		tl = ix.timelines.get(scoped)
	}
	tl.mu.Lock()
	tl.created = conv.CreatedAt
	tl.mu.Unlock()
	return ix.Sync(ctx, tenant, conv.ID, conv.LastSeq)
}

// Sync indexes every turn of the conversation up to lastSeq (the
// conversation's LastSeq as the caller read it) and returns the watermark.
func (ix *Indexer) Sync(ctx context.Context, tenant, conv string, lastSeq int64) (int64, error) {
	scoped := ScopedID(tenant, conv)
	wm, err := ix.index.Watermark(ctx, scoped)
	if err != nil {
		return 0, degradedErr(PartIndex, fmt.Errorf("watermark of %s: %w", conv, err))
	}
	if wm >= lastSeq {
		return wm, nil
	}
	mu := ix.lock(scoped)
	mu.Lock()
	defer mu.Unlock()
	for {
		if wm, err = ix.index.Watermark(ctx, scoped); err != nil {
			return 0, degradedErr(PartIndex, fmt.Errorf("watermark of %s: %w", conv, err))
		}
		if wm >= lastSeq {
			return wm, nil
		}
		turns, err := ix.store.Turns(ctx, tenant, conv, wm, ix.pageSize)
		if err != nil {
			return wm, fmt.Errorf("retrieval: read turns of %s after %d: %w", conv, wm, err)
		}
		if len(turns) == 0 {
			return wm, nil // lastSeq's turns were forgotten meanwhile
		}
		docs, err := ix.Docs(ctx, turns)
		if err != nil {
			return wm, err
		}
		if err := ix.index.Upsert(ctx, scoped, docs); err != nil {
			return wm, degradedErr(PartIndex, fmt.Errorf("index %s: %w", conv, err))
		}
		ix.noteIndexed(scoped, docs, wm == 0)
	}
}

// Docs turns store turns into index docs: lexical terms of speaker name,
// content and caption, and dense vectors of content and caption.
func (ix *Indexer) Docs(ctx context.Context, turns []memory.Turn) ([]Doc, error) {
	docs := make([]Doc, len(turns))
	texts := make([]string, len(turns))
	for i, t := range turns {
		d := Doc{Seq: t.Seq, Role: string(t.Role), Name: t.Name, Content: t.Content,
			Caption: Caption(t.Metadata), CreatedAt: t.CreatedAt.UTC(), Tokens: t.Tokens}
		lex := t.Content
		if d.Caption != "" {
			lex += "\n" + d.Caption
		}
		texts[i] = lex
		if d.Name != "" {
			lex = d.Name + "\n" + lex
		}
		d.Terms, d.Length = ix.analyzer.docTermFreqs(lex)
		d.LineTokens = ix.tok.Count(RecallLine(d))
		docs[i] = d
	}
	if ix.embedder != nil {
		vecs, err := ix.embedder.Embed(ctx, texts)
		if err != nil {
			return nil, degradedErr(PartEmbedder, fmt.Errorf("embed %d turns: %w", len(texts), err))
		}
		if len(vecs) != len(docs) {
			return nil, fmt.Errorf("retrieval: embedder returned %d vectors for %d texts", len(vecs), len(docs))
		}
		for i := range docs {
			docs[i].Dense = vecs[i]
		}
	}
	return docs, nil
}

// Forget removes one turn from the index (after the store forgot it).
func (ix *Indexer) Forget(ctx context.Context, tenant, conv string, seq int64) error {
	scoped := ScopedID(tenant, conv)
	mu := ix.lock(scoped)
	mu.Lock()
	defer mu.Unlock()
	return ix.index.Delete(ctx, scoped, []int64{seq})
}

// Drop removes a deleted conversation's docs.
func (ix *Indexer) Drop(ctx context.Context, tenant, conv string) error {
	scoped := ScopedID(tenant, conv)
	mu := ix.lock(scoped)
	mu.Lock()
	defer mu.Unlock()
	ix.timelines.drop(scoped)
	return ix.index.DeleteConversation(ctx, scoped)
}

// Caption returns the image caption a turn's metadata carries, if any.
func Caption(meta map[string]any) string {
	for _, k := range captionKeys {
		if s, ok := meta[k].(string); ok && strings.TrimSpace(s) != "" {
			return strings.TrimSpace(s)
		}
	}
	return ""
}

// dupKey identifies near-duplicate docs: the same set of lexical terms.
// Docs with fewer than 3 distinct terms get 0 (never suppressed: "ok" and
// "ok!" may answer different questions).
func dupKey(d Doc) uint64 {
	if len(d.Terms) < 3 {
		return 0
	}
	ids := make([]uint32, len(d.Terms))
	for i, t := range d.Terms {
		ids[i] = t.ID
	}
	slices.Sort(ids)
	h := fnv.New64a()
	var b [4]byte
	for _, id := range ids {
		b[0], b[1], b[2], b[3] = byte(id), byte(id>>8), byte(id>>16), byte(id>>24)
		h.Write(b[:])
	}
	return h.Sum64() | 1
}
