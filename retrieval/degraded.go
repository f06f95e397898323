package retrieval

import (
	"context"
	"errors"
)

// Degraded recall. The index and the embedder are derived, optional parts:
// when one fails (Qdrant or the embeddings server down) a context is still
// assembled — without vector recall when the embedder fails, without
// recalled turns when the index does — and its report says what was left
// out (Report.Degraded); the Assembler counts such contexts per part. The
// store is the truth: its failures still fail the request.

// Parts of recall that may fail alone.
const (
	PartIndex    = "index"
	PartEmbedder = "embedder"
)

// DegradedError is a failure of the index or the embedder.
type DegradedError struct {
	Part string // PartIndex or PartEmbedder
	Err  error
}

func (e *DegradedError) Error() string {
	return "retrieval: " + e.Part + " unavailable: " + e.Err.Error()
}

func (e *DegradedError) Unwrap() error { return e.Err }

// degradedErr wraps err as a failure of part (nil stays nil).
func degradedErr(part string, err error) error {
	if err == nil {
		return nil
	}
	return &DegradedError{Part: part, Err: err}
}

// degrade records err in the report and the counters when it is a failure
// of the index or the embedder and the request itself is still alive; it
// reports whether the assembly may go on.
func (a *Assembler) degrade(ctx context.Context, rep *Report, err error) bool {
	var de *DegradedError
	if ctx.Err() != nil || !errors.As(err, &de) {
		return false
	}
	rep.Degraded = append(rep.Degraded, de.Error())
	switch de.Part {
	case PartIndex:
		a.degradedIndex.Add(1)
	case PartEmbedder:
		a.degradedEmbedder.Add(1)
	}
	return true
}

// DegradedTotal is how many contexts were assembled without part (PartIndex
// or PartEmbedder) since the Assembler was made.
func (a *Assembler) DegradedTotal(part string) uint64 {
	switch part {
	case PartIndex:
		return a.degradedIndex.Load()
	case PartEmbedder:
		return a.degradedEmbedder.Load()
	}
	return 0
}
