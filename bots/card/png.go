package card

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/fnv"
	"image"
	"image/color"
	"image/png"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/longmem/longmem/bots"
	"github.com/longmem/longmem/memory"
)

var pngSignature = []byte("\x89PNG\r\n\x1a\n")

// Text chunk keywords that carry a card.
const (
	keywordV2 = "chara"
	keywordV3 = "ccv3"
)

// maxTextChunk bounds a decompressed zTXt/iTXt chunk (bytes).
const maxTextChunk = 32 << 20

type chunk struct {
	typ  string
	data []byte
}

// chunks splits a PNG into its chunks, checking the signature and that
// every chunk lies within b (CRCs are not checked).
func chunks(b []byte) ([]chunk, error) {
	if !bytes.HasPrefix(b, pngSignature) {
		return nil, memory.Invalid("card", "not a PNG (bad signature)")
	}
	var out []chunk
	rest := b[len(pngSignature):]
	for len(rest) > 0 {
		if len(rest) < 12 {
			return nil, memory.Invalid("card", "PNG truncated inside a chunk header")
		}
		n := binary.BigEndian.Uint32(rest[:4])
		if uint64(n) > uint64(len(rest)-12) {
			return nil, memory.Invalid("card", "PNG chunk %q of %d bytes runs past the end of the file", string(rest[4:8]), n)
		}
		out = append(out, chunk{typ: string(rest[4:8]), data: rest[8 : 8+n]})
		rest = rest[12+n:]
		if out[len(out)-1].typ == "IEND" {
			break
		}
	}
	if len(out) == 0 || out[0].typ != "IHDR" {
		return nil, memory.Invalid("card", "PNG does not start with an IHDR chunk")
	}
	return out, nil
}

// textChunk returns the keyword and text of a tEXt, zTXt or iTXt chunk.
func textChunk(c chunk) (keyword, text string, err error) {
	kw, rest, ok := bytes.Cut(c.data, []byte{0})
	if !ok {
		return "", "", memory.Invalid("card", "PNG %s chunk without a keyword separator", c.typ)
	}
	switch c.typ {
	case "tEXt":
		return string(kw), latin1(rest), nil
	case "zTXt":
		if len(rest) < 1 || rest[0] != 0 {
			return "", "", memory.Invalid("card", "PNG zTXt chunk %q with an unknown compression method", kw)
		}
		t, err := inflate(rest[1:])
		if err != nil {
			return "", "", memory.Invalid("card", "PNG zTXt chunk %q: %v", kw, err)
		}
		return string(kw), latin1(t), nil
	case "iTXt":
		if len(rest) < 2 {
			return "", "", memory.Invalid("card", "PNG iTXt chunk %q truncated", kw)
		}
		compressed, method := rest[0], rest[1]
		_, rest, ok = bytes.Cut(rest[2:], []byte{0}) // language tag
		if ok {
			_, rest, ok = bytes.Cut(rest, []byte{0}) // translated keyword
		}
		if !ok {
			return "", "", memory.Invalid("card", "PNG iTXt chunk %q truncated", kw)
		}
		if compressed == 1 {
			if method != 0 {
				return "", "", memory.Invalid("card", "PNG iTXt chunk %q with an unknown compression method", kw)
			}
			t, err := inflate(rest)
			if err != nil {
				return "", "", memory.Invalid("card", "PNG iTXt chunk %q: %v", kw, err)
			}
			rest = t
		}
		return string(kw), string(rest), nil
	}
	return "", "", nil
}

// latin1 decodes a tEXt/zTXt value; text that is valid UTF-8 (as some
// tools write) is taken as such.
func latin1(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	for _, c := range b {
		if c >= 0x80 {
			r := make([]rune, len(b))
			for i, c := range b {
				r[i] = rune(c)
			}
			return string(r)
		}
	}
	return string(b)
}

func inflate(b []byte) ([]byte, error) {
	zr, err := zlib.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	out, err := io.ReadAll(io.LimitReader(zr, maxTextChunk+1))
	if err != nil {
		return nil, err
	}
	if len(out) > maxTextChunk {
		return nil, fmt.Errorf("decompresses to more than %d bytes", maxTextChunk)
	}
	return out, nil
}

// ParsePNG reads the card in a PNG's text chunk: ccv3 (V3) when present
// and readable, else chara (V2, or V1). The value is base64 of the JSON
// (plain JSON is accepted too). Errors wrap memory.ErrInvalid.
func ParsePNG(b []byte) (bots.Bot, error) {
	cs, err := chunks(b)
	if err != nil {
		return bots.Bot{}, err
	}
	found := map[string]string{}
	for _, c := range cs {
		if c.typ != "tEXt" && c.typ != "zTXt" && c.typ != "iTXt" {
			continue
		}
		kw, text, err := textChunk(c)
		if err != nil {
			return bots.Bot{}, err
		}
		if k := strings.ToLower(kw); (k == keywordV2 || k == keywordV3) && found[k] == "" {
			found[k] = text
		}
	}
	var first error
	for _, kw := range []string{keywordV3, keywordV2} {
		text, ok := found[kw]
		if !ok {
			continue
		}
		bot, err := parseChunk(kw, text)
		if err == nil {
			return bot, nil
		}
		if first == nil {
			first = err
		}
	}
	if first != nil {
		return bots.Bot{}, first
	}
	return bots.Bot{}, memory.Invalid("card", "the PNG has no chara or ccv3 text chunk: it holds no character card")
}

func parseChunk(kw, text string) (bots.Bot, error) {
	text = strings.TrimSpace(text)
	raw := []byte(text)
	if !strings.HasPrefix(text, "{") {
		clean := strings.Map(func(r rune) rune {
			if r == ' ' || r == '\n' || r == '\r' || r == '\t' {
				return -1
			}
			return r
		}, text)
		var err error
		if raw, err = base64.StdEncoding.DecodeString(clean); err != nil {
			if raw, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(clean, "=")); err != nil {
				return bots.Bot{}, memory.Invalid("card", "the PNG's %s chunk is not base64: %v", kw, err)
			}
		}
	}
	bot, err := ParseJSON(raw)
	if err != nil {
		var ie *memory.InvalidError
		if errors.As(err, &ie) {
			return bots.Bot{}, memory.Invalid(ie.Field, "%s (in the PNG's %s chunk)", ie.Message, kw)
		}
		return bots.Bot{}, err
	}
	return bot, nil
}

// ExportPNG writes b as a PNG card: the image img (a PNG; nil for a small
// generated placeholder) with a chara chunk (V2) and a ccv3 chunk (V3),
// both base64 JSON. Card chunks img already has are replaced; its other
// chunks are kept as they are.
func ExportPNG(b bots.Bot, img []byte) ([]byte, error) {
	if img == nil {
		var err error
		if img, err = Placeholder(b.Name); err != nil {
			return nil, err
		}
	}
	cs, err := chunks(img)
	if err != nil {
		return nil, err
	}
	v2, err := Export(b, V2)
	if err != nil {
		return nil, err
	}
	v3, err := Export(b, V3)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	out.Write(pngSignature)
	wrote := false
	for _, c := range cs {
		if isCardChunk(c) {
			continue
		}
		if c.typ == "IEND" {
			writeChunk(&out, "tEXt", textData(keywordV2, v2))
			writeChunk(&out, "tEXt", textData(keywordV3, v3))
			wrote = true
		}
		writeChunk(&out, c.typ, c.data)
	}
	if !wrote {
		return nil, memory.Invalid("card", "the PNG has no IEND chunk")
	}
	return out.Bytes(), nil
}

// isCardChunk reports a text chunk that carries a card (chara, ccv3) or
// a card's embedded asset (chara-ext-asset_…).
func isCardChunk(c chunk) bool {
	if c.typ != "tEXt" && c.typ != "zTXt" && c.typ != "iTXt" {
		return false
	}
	kw, _, err := textChunk(c)
	k := strings.ToLower(kw)
	return err == nil && (k == keywordV2 || k == keywordV3 || strings.HasPrefix(k, "chara-ext-asset_"))
}

// Picture is a PNG card's image without the card: its chunks but the
// card's text chunks. A PNG that does not parse is a memory.ErrInvalid.
func Picture(img []byte) ([]byte, error) {
	cs, err := chunks(img)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	out.Write(pngSignature)
	for _, c := range cs {
		if !isCardChunk(c) {
			writeChunk(&out, c.typ, c.data)
		}
	}
	return out.Bytes(), nil
}

func textData(kw string, json []byte) []byte {
	enc := base64.StdEncoding
	d := make([]byte, len(kw)+1+enc.EncodedLen(len(bytes.TrimSpace(json))))
	copy(d, kw)
	enc.Encode(d[len(kw)+1:], bytes.TrimSpace(json))
	return d
}

func writeChunk(w *bytes.Buffer, typ string, data []byte) {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(data)))
	w.Write(n[:])
	crc := crc32.NewIEEE()
	crc.Write([]byte(typ))
	crc.Write(data)
	w.WriteString(typ)
	w.Write(data)
	binary.BigEndian.PutUint32(n[:], crc.Sum32())
	w.Write(n[:])
}

// Placeholder is a small PNG for a card without an image: a 64×64 square
// in a colour derived from name.
func Placeholder(name string) ([]byte, error) {
	h := fnv.New32a()
	h.Write([]byte(name))
	s := h.Sum32()
	base := color.RGBA{R: uint8(s), G: uint8(s >> 8), B: uint8(s >> 16), A: 255}
	img := image.NewRGBA(image.Rect(0, 0, 64, 64))
	for y := range 64 {
		for x := range 64 {
			c := base
			if (x/16+y/16)%2 == 1 {
				c = color.RGBA{R: base.R / 2, G: base.G / 2, B: base.B / 2, A: 255}
			}
			img.SetRGBA(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("card: placeholder image: %w", err)
	}
	return buf.Bytes(), nil
}
