package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

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
