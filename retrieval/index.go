package retrieval

import (
	"context"
	"time"
)

// Doc is one turn as an Index holds it: what recall needs to score it and
// what the assembler needs to render it without reading the store again.
type Doc struct {
	Seq       int64     `json:"seq"`
	Role      string    `json:"role"`
	Name      string    `json:"name,omitempty"`
	Content   string    `json:"content"`           // the turn's content, verbatim
	Caption   string    `json:"caption,omitempty"` // image caption from metadata, indexed but rendered apart
	CreatedAt time.Time `json:"created_at"`        // turn time (UTC)
	Tokens    int       `json:"tokens"`            // content tokens, as stored with the turn
	// LineTokens is the exact token count of the turn's rendered recall
	// line, "Speaker: content [image: caption]\n" (see RecallLine).
	LineTokens int        `json:"line_tokens"`
	Dense      []float32  `json:"dense,omitempty"` // nil when no embedder is configured
	Terms      []TermFreq `json:"terms,omitempty"` // lexical terms, ascending by ID, IDs unique
	Length     int        `json:"length"`          // number of lexical terms (with repeats), BM25's document length
}

// TermFreq is one lexical term of a document and how often it occurs.
type TermFreq struct {
	ID    uint32 `json:"id"` // TermID(term)
	Count uint32 `json:"n"`
}

// QueryTerm is one term of a lexical query with its weight (1 for a plain
// query term; expansion terms weigh less).
type QueryTerm struct {
	ID     uint32
	Weight float32
}

// Query asks an Index for the best matches in one conversation.
type Query struct {
	Terms []QueryTerm // lexical part; empty skips lexical search
	Dense []float32   // dense part; nil skips dense search
	// Limit is the maximum number of hits per list (lexical, dense).
	Limit int
	// MaxSeq, when > 0, excludes docs with Seq > MaxSeq (the recent window).
	MaxSeq int64
}

// Hit is one scored doc. Lists of hits are ordered by Score descending, ties
// by Seq ascending.
type Hit struct {
	Seq   int64
	Score float64
}

// Result holds the two ranked lists of one Search.
type Result struct {
	Lexical []Hit // BM25 over the docs' terms
	Dense   []Hit // cosine similarity of dense vectors
}

// Index stores the docs of many conversations and searches within one.
// Implementations are safe for concurrent use. Conversation ids passed here
// are already tenant-scoped (see ScopedID).
type Index interface {
	// Upsert adds or replaces docs (by Seq) of a conversation.
	Upsert(ctx context.Context, conv string, docs []Doc) error
	// Delete removes the docs with the given seqs; unknown seqs are ignored.
	Delete(ctx context.Context, conv string, seqs []int64) error
	// DeleteConversation removes every doc of conv.
	DeleteConversation(ctx context.Context, conv string) error
	// Search returns the best lexical and dense hits of q within conv.
	Search(ctx context.Context, conv string, q Query) (Result, error)
	// Get returns the docs with the given seqs that exist, ascending by Seq,
	// with their Dense vectors only when vectors is true (recall rendering
	// needs none; leaving them out saves a copy per doc, or the transfer).
	// The docs' slices may be shared with the index: callers must not
	// modify them.
	Get(ctx context.Context, conv string, seqs []int64, vectors bool) ([]Doc, error)
	// Watermark is the highest Seq upserted into conv since it was last
	// emptied (0 when the index holds nothing for it, e.g. after an
	// in-memory index evicted or restarted). Docs are upserted in seq order,
	// so every existing turn with seq <= Watermark is indexed.
	Watermark(ctx context.Context, conv string) (int64, error)
	Close() error
}

// ScopedID is the id under which an Index keeps a tenant's conversation.
func ScopedID(tenant, conv string) string {
	if tenant == "" {
		return conv
	}
	return tenant + "\x1f" + conv
}
