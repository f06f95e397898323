// Package qdrant is the retrieval.Index backend on a Qdrant server, one
// collection shared by all conversations, with dense and sparse vectors.
//
// Each doc is a point whose id is a deterministic UUID of (conversation,
// seq). It carries a named cosine dense vector "dense" (when Config.Dense >
// 0), a named sparse vector "lexical", and a payload with the conversation
// id, the seq and every field Get returns. The conversation id has a keyword
// payload index with is_tenant, and every request filters on it; seq has an
// integer range index, for MaxSeq and for the Watermark.
//
// Lexical search is BM25 split between client and server: the sparse vector
// of a doc holds the term-frequency part tf*(k1+1)/(tf + k1*(1-b+b*len/avgLen))
// (k1 = 1.2, b = 0.75, avgLen = Config.AvgLen), and the collection's IDF
// modifier multiplies in ln(1 + (N - df + 0.5)/(df + 0.5)); the query's
// sparse vector holds the query term weights. Unlike the embedded index,
// Qdrant computes N and df over the whole collection (all conversations), and
// avgLen is a configured constant rather than the conversation's average, so
// scores differ from embeddedindex while rankings mostly agree.
//
// Search sends the lexical and the dense query in one QueryBatch round trip
// and returns both ranked lists unfused, for the caller to fuse. Cosine
// cannot normalise a zero vector, so a doc whose dense vector is all zeros
// is stored without one (Get returns no Dense for it; like embeddedindex it
// is never a dense hit), and a zero query yields no dense hits.
//
// Watermark is the highest seq among conv's points (a scroll ordered by seq
// descending, limit 1), so it is 0 once conv holds nothing, and it drops if
// the highest doc itself is deleted; both keep the Index contract, since
// every turn at or below it is indexed.
//
// An Index is safe for concurrent use.
package qdrant

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"

	qc "github.com/qdrant/go-client/qdrant"

	"github.com/longmem/longmem/retrieval"
)

// Defaults of Config.
const (
	DefaultAddr       = "localhost:6334"
	DefaultCollection = "longmem_turns"
	DefaultAvgLen     = 24.0 // lexical terms per doc
)

// upsertBatch is how many points one Upsert request carries at most.
const upsertBatch = 256

// Config says where the Qdrant server is and how the collection is shaped.
// The zero value works against a local server without dense vectors.
type Config struct {
	// Addr is the gRPC address, host:port. Default DefaultAddr.
	Addr string
	// APIKey authenticates to the server; it is secret (from the
	// environment only) and redacted when a Config is printed.
	APIKey string
	// Collection holds every conversation's points. Default
	// DefaultCollection.
	Collection string
	// Dense is the dimension of dense vectors; 0 means none (no embedder).
	// It must match an existing collection.
	Dense int
	// UseTLS connects with TLS.
	UseTLS bool
	// AvgLen is the average lexical length of a doc (terms, with repeats)
	// assumed by BM25's length normalisation. Default DefaultAvgLen.
	AvgLen float64
}

func (c Config) withDefaults() Config {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.Collection == "" {
		c.Collection = DefaultCollection
	}
	if c.AvgLen == 0 {
		c.AvgLen = DefaultAvgLen
	}
	return c
}

// Validate reports a malformed address or a negative dimension or length.
func (c Config) Validate() error {
	c = c.withDefaults()
	if _, _, err := splitAddr(c.Addr); err != nil {
		return fmt.Errorf("qdrant: Addr: %w", err)
	}
	if c.Dense < 0 {
		return fmt.Errorf("qdrant: Dense %d < 0", c.Dense)
	}
	if !(c.AvgLen > 0) {
		return fmt.Errorf("qdrant: AvgLen %v must be > 0", c.AvgLen)
	}
	return nil
}

func splitAddr(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 1 || port > 65535 {
		return "", 0, fmt.Errorf("bad port %q in %q", p, addr)
	}
	if host == "" {
		return "", 0, fmt.Errorf("no host in %q", addr)
	}
	return host, port, nil
}

const redacted = "[redacted]"

func (c Config) redactedKey() string {
	if c.APIKey == "" {
		return ""
	}
	return redacted
}

// String prints the Config with the API key redacted.
func (c Config) String() string {
	return fmt.Sprintf("qdrant.Config{Addr:%q APIKey:%q Collection:%q Dense:%d UseTLS:%t AvgLen:%v}",
		c.Addr, c.redactedKey(), c.Collection, c.Dense, c.UseTLS, c.AvgLen)
}

// GoString is String, so that %#v redacts the key too.
func (c Config) GoString() string { return c.String() }

// LogValue logs the Config with the API key redacted.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("addr", c.Addr),
		slog.String("api_key", c.redactedKey()),
		slog.String("collection", c.Collection),
		slog.Int("dense", c.Dense),
		slog.Bool("use_tls", c.UseTLS),
		slog.Float64("avg_len", c.AvgLen),
	)
}

// Index is the Qdrant retrieval.Index. Make one with New.
type Index struct {
	client *qc.Client
	cfg    Config // with defaults
}

var _ retrieval.Index = (*Index)(nil)

// New connects to the server and ensures the collection: it creates it
// (and its payload indexes) when missing, and otherwise checks that its
// vectors match cfg, failing on a dense dimension mismatch.
func New(ctx context.Context, cfg Config) (*Index, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	host, port, _ := splitAddr(cfg.Addr)
	client, err := qc.NewClient(&qc.Config{
		Host:                   host,
		Port:                   port,
		APIKey:                 cfg.APIKey,
		UseTLS:                 cfg.UseTLS,
		SkipCompatibilityCheck: true, // it logs through the global logger; New checks health itself
	})
	if err != nil {
		return nil, fmt.Errorf("qdrant: connect %s: %w", cfg.Addr, err)
	}
	idx := &Index{client: client, cfg: cfg}
	if err := idx.ensureCollection(ctx); err != nil {
		client.Close()
		return nil, err
	}
	return idx, nil
}

func (i *Index) ensureCollection(ctx context.Context) error {
	name := i.cfg.Collection
	if _, err := i.client.HealthCheck(ctx); err != nil {
		return fmt.Errorf("qdrant: health check %s: %w", i.cfg.Addr, err)
	}
	exists, err := i.client.CollectionExists(ctx, name)
	if err != nil {
		return fmt.Errorf("qdrant: collection %q: %w", name, err)
	}
	if !exists {
		if err := i.client.CreateCollection(ctx, createCollectionRequest(name, i.cfg.Dense)); err != nil {
			// Another process may have created it meanwhile.
			if again, err2 := i.client.CollectionExists(ctx, name); err2 != nil || !again {
				return fmt.Errorf("qdrant: create collection %q: %w", name, err)
			}
		}
	}
	info, err := i.client.GetCollectionInfo(ctx, name)
	if err != nil {
		return fmt.Errorf("qdrant: collection %q: %w", name, err)
	}
	if err := checkCollection(name, info, i.cfg.Dense); err != nil {
		return fmt.Errorf("qdrant: %w", err)
	}
	for _, req := range fieldIndexRequests(name) {
		if _, ok := info.GetPayloadSchema()[req.FieldName]; ok {
			continue
		}
		if _, err := i.client.CreateFieldIndex(ctx, req); err != nil {
			return fmt.Errorf("qdrant: index %s of collection %q: %w", req.FieldName, name, err)
		}
	}
	return nil
}

// Close closes the connections.
func (i *Index) Close() error {
	if err := i.client.Close(); err != nil {
		return fmt.Errorf("qdrant: close: %w", err)
	}
	return nil
}

// Upsert adds or replaces docs (by Seq), waiting until they are searchable.
// Docs go in requests of up to 256, in order, so a failure leaves a prefix
// indexed.
func (i *Index) Upsert(ctx context.Context, conv string, docs []retrieval.Doc) error {
	if len(docs) == 0 {
		return nil
	}
	points, err := buildPoints(conv, docs, i.cfg.Dense, i.cfg.AvgLen)
	if err != nil {
		return fmt.Errorf("qdrant: upsert %q: %w", conv, err)
	}
	for chunk := range slices.Chunk(points, upsertBatch) {
		_, err := i.client.Upsert(ctx, &qc.UpsertPoints{
			CollectionName: i.cfg.Collection,
			Wait:           qc.PtrOf(true),
			Points:         chunk,
		})
		if err != nil {
			return fmt.Errorf("qdrant: upsert %q: %w", conv, err)
		}
	}
	return nil
}

// Delete removes the docs with the given seqs; unknown seqs are ignored.
func (i *Index) Delete(ctx context.Context, conv string, seqs []int64) error {
	if len(seqs) == 0 {
		return nil
	}
	if _, err := i.client.Delete(ctx, deleteSeqsRequest(i.cfg.Collection, conv, seqs)); err != nil {
		return fmt.Errorf("qdrant: delete %q: %w", conv, err)
	}
	return nil
}

// DeleteConversation removes every point of conv.
func (i *Index) DeleteConversation(ctx context.Context, conv string) error {
	if _, err := i.client.Delete(ctx, deleteConversationRequest(i.cfg.Collection, conv)); err != nil {
		return fmt.Errorf("qdrant: delete conversation %q: %w", conv, err)
	}
	return nil
}

// Get returns the docs with the given seqs that exist, ascending by Seq.
func (i *Index) Get(ctx context.Context, conv string, seqs []int64, vectors bool) ([]retrieval.Doc, error) {
	out := []retrieval.Doc{}
	if len(seqs) == 0 {
		return out, nil
	}
	seqs = slices.Clone(seqs)
	slices.Sort(seqs)
	seqs = slices.Compact(seqs)
	points, err := i.client.Get(ctx, getRequest(i.cfg.Collection, conv, seqs, vectors))
	if err != nil {
		return nil, fmt.Errorf("qdrant: get %q: %w", conv, err)
	}
	for _, p := range points {
		if p.GetPayload()[keyConv].GetStringValue() != conv {
			continue // not conv's: ids are hashes, so never trust one alone
		}
		d, err := docFromPayload(p.GetPayload(), denseOf(p.GetVectors()))
		if err != nil {
			return nil, fmt.Errorf("qdrant: get %q: %w", conv, err)
		}
		if _, found := slices.BinarySearch(seqs, d.Seq); found {
			out = append(out, d)
		}
	}
	slices.SortFunc(out, func(a, b retrieval.Doc) int {
		switch {
		case a.Seq < b.Seq:
			return -1
		case a.Seq > b.Seq:
			return 1
		}
		return 0
	})
	return out, nil
}

// Search returns the best lexical and dense hits of q within conv, both
// fetched in one QueryBatch.
func (i *Index) Search(ctx context.Context, conv string, q retrieval.Query) (retrieval.Result, error) {
	var res retrieval.Result
	plan, err := buildSearchRequest(i.cfg.Collection, conv, q, i.cfg.Dense)
	if err != nil {
		return res, fmt.Errorf("qdrant: search %q: %w", conv, err)
	}
	if len(plan.queries) == 0 {
		return res, nil
	}
	batch, err := i.client.QueryBatch(ctx, &qc.QueryBatchPoints{
		CollectionName: i.cfg.Collection,
		QueryPoints:    plan.queries,
	})
	if err != nil {
		return res, fmt.Errorf("qdrant: search %q: %w", conv, err)
	}
	if len(batch) != len(plan.queries) {
		return res, fmt.Errorf("qdrant: search %q: %d results for %d queries", conv, len(batch), len(plan.queries))
	}
	if plan.lexical >= 0 {
		if res.Lexical, err = hitsFromScored(batch[plan.lexical].GetResult()); err != nil {
			return retrieval.Result{}, fmt.Errorf("qdrant: search %q: %w", conv, err)
		}
	}
	if plan.dense >= 0 {
		if res.Dense, err = hitsFromScored(batch[plan.dense].GetResult()); err != nil {
			return retrieval.Result{}, fmt.Errorf("qdrant: search %q: %w", conv, err)
		}
	}
	return res, nil
}

// Watermark is the highest seq among conv's points, 0 when it has none.
func (i *Index) Watermark(ctx context.Context, conv string) (int64, error) {
	points, err := i.client.Scroll(ctx, watermarkRequest(i.cfg.Collection, conv))
	if err != nil {
		return 0, fmt.Errorf("qdrant: watermark %q: %w", conv, err)
	}
	if len(points) == 0 {
		return 0, nil
	}
	seq, ok := intValue(points[0].GetPayload()[keySeq])
	if !ok {
		return 0, fmt.Errorf("qdrant: watermark %q: point without an integer %q", conv, keySeq)
	}
	return seq, nil
}
