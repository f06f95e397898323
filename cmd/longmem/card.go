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
// with the card in its text chunks) or a lorebook (longmem's, or a
// SillyTavern World Info file), check it the way the server would, and
// write it as a V2 or V3 card, a PNG card, the bot JSON that POST /v1/bots
// accepts, or a lorebook in either form. No server needed.
func runCard(_ context.Context, args []string, stdout, stderr io.Writer, _ map[string]string) int {
	fs := flag.NewFlagSet("card", flag.ContinueOnError)
	fs.SetOutput(stderr)
	to := fs.String("to", "bot", "output: bot (the JSON of POST /v1/bots), v2, v3 or png for a card; lorebook (longmem's, the body of PUT /v1/bots/{id}/lorebook) or worldinfo (SillyTavern) for a lorebook (default for a lorebook: lorebook)")
	check := fs.Bool("check", false, "only check the card or lorebook: print what is wrong, or what it holds")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: longmem card [--to bot|v2|v3|png|lorebook|worldinfo] [--check] IN [OUT]\n\n"+
			"Convert or check a Character Card (V1/V2/V3 JSON, or a PNG with a chara/ccv3\n"+
			"chunk) or a lorebook (longmem's lorebook JSON, a card's character_book, or a\n"+
			"SillyTavern World Info file). A card's lorebook comes out with --to lorebook\n"+
			"or --to worldinfo. OUT defaults to standard output; IN - reads standard input.\n\nFlags:\n")
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
	toSet := false
	fs.Visit(func(f *flag.Flag) { toSet = toSet || f.Name == "to" })
	in, err := readInput(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(stderr, "longmem card: %v\n", err)
		return 1
	}
	var out []byte
	switch *to {
	case "lorebook", "worldinfo":
		out, err = convertLorebook(in, *to, *check, fs.Arg(0))
	case "bot", "v2", "v3", "png":
		if lb, form, lerr := card.ParseLorebook(in); lerr == nil && form != card.LoreCard {
			if toSet && !*check {
				fmt.Fprintf(stderr, "longmem card: %s is a lorebook (%s), not a Character Card: convert it with --to lorebook or --to worldinfo, or give it to a bot with PUT /v1/bots/{id}/lorebook\n", fs.Arg(0), loreFormName(form))
				return 1
			}
			out, err = lorebookOutput(lb, form, "lorebook", *check, fs.Arg(0))
			break
		}
		out, err = convertCard(in, *to, *check, fs.Arg(0))
	default:
		fmt.Fprintf(stderr, "longmem card: --to %q: want bot, v2, v3, png, lorebook or worldinfo\n", *to)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "longmem card: %s: %v\n", fs.Arg(0), err)
		return 1
	}
	if fs.NArg() == 2 && fs.Arg(1) != "-" && !*check {
		if err := os.WriteFile(fs.Arg(1), out, 0o644); err != nil {
			fmt.Fprintf(stderr, "longmem card: %v\n", err)
			return 1
		}
		return 0
	}
	_, _ = stdout.Write(out)
	return 0
}

// convertCard checks the card in and writes it as format to (bot, v2, v3
// or png); with check, a line saying what it holds.
func convertCard(in []byte, to string, check bool, name string) ([]byte, error) {
	b, err := card.Parse(in)
	if err != nil {
		return nil, err
	}
	if b.ID == "" {
		b.ID = botIDFor(b.Name)
	}
	if err := bots.Validate(b); err != nil {
		return nil, err
	}
	if check {
		entries := 0
		if b.Lorebook != nil {
			entries = len(b.Lorebook.Entries)
		}
		return fmt.Appendf(nil, "%s: a valid card for %q (%d lorebook entries)\n", name, b.Name, entries), nil
	}
	switch to {
	case "v2":
		return card.Export(b, card.V2)
	case "v3":
		return card.Export(b, card.V3)
	case "png":
		var img []byte
		if bytes.HasPrefix(in, []byte("\x89PNG")) {
			img = in // keep the card's picture
		}
		return card.ExportPNG(b, img)
	}
	if bytes.HasPrefix(in, []byte("\x89PNG")) {
		if pic, err := card.Picture(in); err == nil && len(pic) <= bots.MaxAvatarBytes {
			b.Avatar = pic // POST /v1/bots keeps it as the bot's picture
		}
	}
	out, err := json.MarshalIndent(b, "", "  ")
	return append(out, '\n'), err
}

// convertLorebook reads a lorebook in any form (a card's included) and
// writes it as to (lorebook or worldinfo).
func convertLorebook(in []byte, to string, check bool, name string) ([]byte, error) {
	lb, form, err := card.ParseLorebook(in)
	if err != nil {
		return nil, err
	}
	return lorebookOutput(lb, form, to, check, name)
}

func lorebookOutput(lb *bots.Lorebook, form card.LoreFormat, to string, check bool, name string) ([]byte, error) {
	if err := bots.Validate(bots.Bot{ID: "lorebook", Name: "lorebook", Lorebook: lb}); err != nil {
		return nil, err
	}
	if check {
		return fmt.Appendf(nil, "%s: a valid %s with %d entries; give it to a bot with PUT /v1/bots/{id}/lorebook\n",
			name, loreFormName(form), len(lb.Entries)), nil
	}
	if to == "worldinfo" {
		return card.ExportWorldInfo(*lb)
	}
	out, err := json.MarshalIndent(lb, "", "  ")
	return append(out, '\n'), err
}

func loreFormName(f card.LoreFormat) string {
	switch f {
	case card.LoreWorldInfo:
		return "SillyTavern World Info file"
	case card.LoreCard:
		return "card's lorebook"
	}
	return "lorebook"
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
