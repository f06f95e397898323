package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/bots"
	"github.com/longmem/longmem/bots/card"
)

func TestCardCommand(t *testing.T) {
	const fixtures = "../../bots/card/testdata/"
	dir := t.TempDir()

	// Check: name and lorebook size.
	code, out, errOut := runCmd(t, nil, "card", "--check", fixtures+"v2_full.json")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "a valid card for")

	// To the bot JSON POST /v1/bots takes.
	code, out, errOut = runCmd(t, nil, "card", fixtures+"v2_full.json")
	require.Equal(t, 0, code, errOut)
	var b map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &b))
	require.NotEmpty(t, b["name"])
	require.NotEmpty(t, b["id"], "an id made from the name")

	// JSON → PNG file → V3 JSON: the same bot.
	png := filepath.Join(dir, "card.png")
	code, _, errOut = runCmd(t, nil, "card", "--to", "png", fixtures+"v2_full.json", png)
	require.Equal(t, 0, code, errOut)
	raw, err := os.ReadFile(png)
	require.NoError(t, err)
	fromPNG, err := card.ParsePNG(raw)
	require.NoError(t, err)
	code, out, errOut = runCmd(t, nil, "card", "--to", "v3", png)
	require.Equal(t, 0, code, errOut)
	fromV3, err := card.ParseJSON([]byte(out))
	require.NoError(t, err)
	require.Equal(t, fromPNG.Name, fromV3.Name)
	require.Equal(t, fromPNG.Lorebook, fromV3.Lorebook)

	// Errors: a file that is no card, an unknown format, no arguments.
	code, _, errOut = runCmd(t, nil, "card", fixtures+"no_card.png")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "no_card.png")
	code, _, _ = runCmd(t, nil, "card", "--to", "v9", fixtures+"v2_full.json")
	require.Equal(t, 2, code)
	code, _, _ = runCmd(t, nil, "card")
	require.Equal(t, 2, code)
}

func TestBotIDFor(t *testing.T) {
	require.Equal(t, "old-tom", botIDFor("Old Tom!"))
	require.Equal(t, "bot", botIDFor("  ✨ "))
	require.Len(t, botIDFor(string(make([]byte, 100))+"abcdefghij"+string(make([]byte, 100))), 10)
}

// Lorebooks convert offline: a World Info file to longmem's lorebook and
// back, a card's lorebook out as World Info; a World Info file asked to be
// a card says where it belongs.
func TestCardCommandLorebooks(t *testing.T) {
	const fixtures = "../../bots/card/testdata/"
	wi := fixtures + "worldinfo.json"

	code, out, errOut := runCmd(t, nil, "card", "--check", wi)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "a valid SillyTavern World Info file with 10 entries")
	require.Contains(t, out, "PUT /v1/bots/{id}/lorebook")

	// World Info → longmem's lorebook (the default for a lorebook) → World Info.
	lbPath := filepath.Join(t.TempDir(), "lorebook.json")
	code, _, errOut = runCmd(t, nil, "card", wi, lbPath)
	require.Equal(t, 0, code, errOut)
	raw, err := os.ReadFile(lbPath)
	require.NoError(t, err)
	var lb bots.Lorebook
	require.NoError(t, json.Unmarshal(raw, &lb))
	require.Len(t, lb.Entries, 10)
	code, out, errOut = runCmd(t, nil, "card", "--to", "worldinfo", lbPath)
	require.Equal(t, 0, code, errOut)
	orig, err := os.ReadFile(wi)
	require.NoError(t, err)
	var want, got any
	require.NoError(t, json.Unmarshal(orig, &want))
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	require.Equal(t, want, got, "lossless both ways")

	// A card's lorebook as World Info.
	code, out, errOut = runCmd(t, nil, "card", "--to", "worldinfo", fixtures+"v2_full.json")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, `"keysecondary"`)

	// A World Info file is no card.
	code, _, errOut = runCmd(t, nil, "card", "--to", "v2", wi)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "not a Character Card")
	require.Contains(t, errOut, "--to lorebook")
}
