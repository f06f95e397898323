// Package retrieval chooses what earlier history goes into a model's window:
// token accounting, lexical analysis, embedders, the Index contract, scoring
// and the token-budgeted context Assembler.
package retrieval

import "context"

// Embedder turns texts into dense vectors, one per text, in order. All
// vectors of one Embedder have the same dimension and are L2-normalised (a
// text with no known word yields a zero vector).
type Embedder interface {
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}

// Tokenizer counts tokens the way the inference backend's model does.
type Tokenizer interface {
	// Count returns the number of tokens of text (ordinary text: special
	// token markers in it are counted as plain text).
	Count(text string) int
	// Name identifies the encoding, e.g. "cl100k_base".
	Name() string
}
