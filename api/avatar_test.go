package api

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/bots"
	"github.com/longmem/longmem/bots/card"
)

func pngOf(t *testing.T, w, h int, noise bool) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	r := rand.New(rand.NewPCG(1, 2))
	for y := range h {
		for x := range w {
			c := color.RGBA{uint8(x), uint8(y), 90, 255}
			if noise {
				c = color.RGBA{uint8(r.IntN(256)), uint8(r.IntN(256)), uint8(r.IntN(256)), 255}
			}
			img.Set(x, y, c)
		}
	}
	var b bytes.Buffer
	require.NoError(t, png.Encode(&b, img))
	return b.Bytes()
}

// A PNG card's picture is kept (without the card's chunks), served at
// …/avatar, shown in the list, carried by a PNG export and by a PUT that
// does not mention it; PATCH avatar null removes it; one over the limit is
// not kept and the import says so.
func TestAvatarKeptAndExported(t *testing.T) {
	e := newBotsEnv(t, Config{})
	pic := pngOf(t, 120, 80, false)
	cardPNG, err := card.ExportPNG(bots.Bot{Name: "Wren", Description: "A cartographer."}, pic)
	require.NoError(t, err)

	r := e.must(http.StatusCreated, "POST", "/v1/bots/import?id=wren", string(cardPNG), "Content-Type: image/png")
	got := r.json(t)
	want, err := card.Picture(cardPNG)
	require.NoError(t, err)
	require.Equal(t, map[string]any{"url": "/v1/bots/wren/avatar", "bytes": float64(len(want))}, got["avatar"])

	av := e.must(http.StatusOK, "GET", "/v1/bots/wren/avatar", "")
	require.Equal(t, "image/png", av.header.Get("Content-Type"))
	require.Equal(t, want, av.body)
	cfg, err := png.DecodeConfig(bytes.NewReader(av.body))
	require.NoError(t, err)
	require.Equal(t, [2]int{120, 80}, [2]int{cfg.Width, cfg.Height}, "the card's own picture")
	_, err = card.ParsePNG(av.body)
	require.Error(t, err, "the picture alone carries no card")

	// The list shows it; a PNG export is drawn on it, not on a placeholder.
	list := e.must(http.StatusOK, "GET", "/v1/bots", "").json(t)["bots"].([]any)
	require.Equal(t, "/v1/bots/wren/avatar", list[0].(map[string]any)["avatar"].(map[string]any)["url"])
	out := e.must(http.StatusOK, "GET", "/v1/bots/wren/card?format=png", "")
	cfg, err = png.DecodeConfig(bytes.NewReader(out.body))
	require.NoError(t, err)
	require.Equal(t, [2]int{120, 80}, [2]int{cfg.Width, cfg.Height})
	back, err := card.ParsePNG(out.body)
	require.NoError(t, err)
	require.Equal(t, "Wren", back.Name)

	// A PUT of what GET gave (avatar as {url, bytes}) keeps the picture.
	body := string(e.must(http.StatusOK, "GET", "/v1/bots/wren", "").body)
	e.must(http.StatusOK, "PUT", "/v1/bots/wren", body)
	require.Equal(t, want, e.must(http.StatusOK, "GET", "/v1/bots/wren/avatar", "").body)
	// PATCH null removes it: a placeholder is served.
	r = e.must(http.StatusOK, "PATCH", "/v1/bots/wren", `{"avatar":null}`)
	require.Nil(t, r.json(t)["avatar"])
	av = e.must(http.StatusOK, "GET", "/v1/bots/wren/avatar", "")
	require.Equal(t, "placeholder", av.header.Get("X-Avatar"))
	// A base64 that is no PNG is refused.
	e.must(http.StatusBadRequest, "PATCH", "/v1/bots/wren", `{"avatar":"aGVsbG8="}`)

	// Over the limit: the card is imported, the picture is not kept.
	big := pngOf(t, 900, 900, true)
	require.Greater(t, len(big), bots.MaxAvatarBytes)
	bigCard, err := card.ExportPNG(bots.Bot{Name: "Huge"}, big)
	require.NoError(t, err)
	r = e.must(http.StatusCreated, "POST", "/v1/bots/import?id=huge", string(bigCard), "Content-Type: image/png")
	require.Contains(t, r.header.Get("X-Avatar"), "not kept")
	require.Nil(t, r.json(t)["avatar"])
}
