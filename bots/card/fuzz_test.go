package card_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/bots/card"
)

// seeds adds every testdata file with the given extension to f.
func seeds(f *testing.F, ext string) {
	files, err := filepath.Glob(filepath.Join("testdata", "*"+ext))
	require.NoError(f, err)
	for _, file := range files {
		b, err := os.ReadFile(file)
		require.NoError(f, err)
		f.Add(b)
	}
}

// roundTrip checks that a parsed card survives export and import in both
// JSON formats and as a PNG.
func roundTrip(t *testing.T, in []byte) {
	b, err := card.Parse(in)
	if err != nil {
		return // a malformed card is an error, never a panic
	}
	for _, f := range []card.Format{card.V2, card.V3} {
		out, err := card.Export(b, f)
		require.NoError(t, err)
		again, err := card.ParseJSON(out)
		require.NoError(t, err, "%s export of a parsed card parses:\n%s", f, out)
		require.Equal(t, b, again, "%s round-trip", f)
	}
	out, err := card.ExportPNG(b, nil)
	require.NoError(t, err)
	again, err := card.ParsePNG(out)
	require.NoError(t, err)
	require.Equal(t, b, again, "PNG round-trip")
}

func FuzzParseJSON(f *testing.F) {
	seeds(f, ".json")
	for _, s := range []string{
		`{"name":"a"}`, `{"spec":"chara_card_v2","data":{"name":"a","character_book":{"entries":[{"id":-1,"keys":"a, b"},{"id":"x"},{"id":0},{"id":0}]}}}`,
		`{"spec":"chara_card_v3","data":{"name":"a","extensions":{"longmem":{"model":{"stop":[]},"metadata":{}}},"character_book":{"entries":[{"keys":["k"],"extensions":{"selectiveLogic":-0,"longmem/card_fields":{"content":"c","use_regex":false}}}]}}}`,
		`{"spec":"chara_card_v2","data":{"name":"a","$root":1},"$root":{"x":1}}`, `[]`, `null`, `{"spec":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > 0 && in[0] == 0x89 {
			return // PNGs are FuzzParsePNG's
		}
		roundTrip(t, in)
	})
}

func FuzzParsePNG(f *testing.F) {
	seeds(f, ".png")
	ph, err := card.Placeholder("seed")
	require.NoError(f, err)
	f.Add(ph)
	f.Add([]byte("\x89PNG\r\n\x1a\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		if _, err := card.ParsePNG(in); err != nil {
			return
		}
		roundTrip(t, in)
	})
}
