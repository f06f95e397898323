package retrieval_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/retrieval"
)

// benchStatic loads a static embedder over the filler vocabulary from a
// 100-dimensional GloVe-format file the benchmark writes (the shape of the
// wink/GloVe vectors users point the static embedder at).
func benchStatic(b *testing.B) retrieval.Embedder {
	rng := rand.New(rand.NewPCG(5, 5))
	var sb strings.Builder
	for _, w := range words {
		sb.WriteString(w)
		for i := 0; i < 100; i++ {
			fmt.Fprintf(&sb, " %.4f", rng.NormFloat64())
		}
		sb.WriteString("\n")
	}
	path := filepath.Join(b.TempDir(), "vectors.txt")
	require.NoError(b, os.WriteFile(path, []byte(sb.String()), 0o600))
	e, err := retrieval.LoadStatic(path, retrieval.StaticOptions{})
	require.NoError(b, err)
	return e
}
