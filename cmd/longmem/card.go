package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"github.com/longmem/longmem/bots"
	"github.com/longmem/longmem/bots/card"
)

// runCard is `longmem card`: read a Character Card (V1/V2/V3 JSON or a PNG
// with the card in its text chunks), check it the way the server would,
// and write it as a V2 or V3 card, a PNG card, or the bot JSON that
// POST /v1/bots accepts. No server needed.
func runCard(_ context.Context, args []string, stdout, stderr io.Writer, _ map[string]string) int {
	fs := flag.NewFlagSet("card", flag.ContinueOnError)
	fs.SetOutput(stderr)
	to := fs.String("to", "bot", "output: bot (the JSON of POST /v1/bots), v2, v3 or png")
	check := fs.Bool("check", false, "only check the card: print what is wrong, or its name and lorebook size")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: longmem card [--to bot|v2|v3|png] [--check] IN [OUT]\n\nConvert or check a Character Card (V1/V2/V3 JSON, or a PNG with a chara/ccv3\nchunk). OUT defaults to standard output; IN - reads standard input.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() < 1 || fs.NArg() > 2 {
		fs.Usage()
		return 2
	}
	in, err := readInput(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(stderr, "longmem card: %v\n", err)
		return 1
	}
	b, err := card.Parse(in)
	if err == nil {
		if b.ID == "" {
			b.ID = botIDFor(b.Name)
		}
		err = bots.Validate(b)
	}
	if err != nil {
		fmt.Fprintf(stderr, "longmem card: %s: %v\n", fs.Arg(0), err)
		return 1
	}
	if *check {
		entries := 0
		if b.Lorebook != nil {
			entries = len(b.Lorebook.Entries)
		}
		fmt.Fprintf(stdout, "%s: a valid card for %q (%d lorebook entries)\n", fs.Arg(0), b.Name, entries)
		return 0
	}
	var out []byte
	switch *to {
	case "bot":
		out, err = json.MarshalIndent(b, "", "  ")
		out = append(out, '\n')
	case "v2":
		out, err = card.Export(b, card.V2)
	case "v3":
		out, err = card.Export(b, card.V3)
	case "png":
		var img []byte
		if bytes.HasPrefix(in, []byte("\x89PNG")) {
			img = in // keep the card's picture
		}
		out, err = card.ExportPNG(b, img)
	default:
		fmt.Fprintf(stderr, "longmem card: --to %q: want bot, v2, v3 or png\n", *to)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "longmem card: %v\n", err)
		return 1
	}
	if fs.NArg() == 2 && fs.Arg(1) != "-" {
		if err := os.WriteFile(fs.Arg(1), out, 0o644); err != nil {
			fmt.Fprintf(stderr, "longmem card: %v\n", err)
			return 1
		}
		return 0
	}
	_, _ = stdout.Write(out)
	return 0
}

func readInput(path string) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(os.Stdin)
	}
	return os.ReadFile(path)
}

var nonID = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// botIDFor makes a bot id from a name: "Old Tom" → "old-tom".
func botIDFor(name string) string {
	id := strings.Trim(nonID.ReplaceAllString(strings.ToLower(name), "-"), "-")
	if id == "" {
		id = "bot"
	}
	return id[:min(len(id), 64)]
}
