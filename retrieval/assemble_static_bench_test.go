package retrieval_test

import (
	"testing"

	"github.com/longmem/longmem/retrieval"
)

// benchStatic returns a static embedder over the filler vocabulary, or nil
// while the static embedder is not built.
func benchStatic(b *testing.B) retrieval.Embedder { return nil }
