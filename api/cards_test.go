package api

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/bots"
)

func cardFixture(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "bots", "card", "testdata", name))
	require.NoError(t, err)
	return string(b)
}

// sameJSON compares two JSON documents by value (numbers as float64).
func sameJSON(t testing.TB, want, got string) {
	t.Helper()
	var w, g any
	require.NoError(t, json.Unmarshal([]byte(want), &w))
	require.NoError(t, json.Unmarshal([]byte(got), &g), got)
	require.Equal(t, w, g)
}

// content is a bot without what the server sets.
func content(b bots.Bot) bots.Bot {
	b.ID, b.Version, b.Author = "", 0, ""
	b.CreatedAt, b.UpdatedAt = time.Time{}, time.Time{}
	return b
}

func TestImportExportJSON(t *testing.T) {
	e := newBotsEnv(t, Config{})
	for _, tc := range []struct{ file, format, name string }{{"v2_full.json", "v2", "Seraphina"}, {"v3_full.json", "v3", "Ayaka"}} {
		orig := cardFixture(t, tc.file)
		r := e.must(http.StatusCreated, "POST", "/v1/bots/import?id=imp-"+tc.format, orig, "X-Author: carol")
		b := decodeBot(t, r)
		require.Equal(t, "imp-"+tc.format, b.ID)
		require.Equal(t, tc.name, b.Name)
		require.Equal(t, "carol", b.Author)
		require.Equal(t, "/v1/bots/imp-"+tc.format, r.header.Get("Location"))

		out := e.must(http.StatusOK, "GET", "/v1/bots/"+b.ID+"/card?format="+tc.format, "")
		require.Equal(t, "application/json", out.header.Get("Content-Type"))
		require.Equal(t, bots.ETag(b.ID, 1), out.header.Get("ETag"))
		sameJSON(t, orig, string(out.body))

		// The export imports as the same bot: a duplicate of it, unless a
		// copy is asked for.
		dup := e.must(http.StatusOK, "POST", "/v1/bots/import", string(out.body))
		require.Equal(t, b.ID, dup.header.Get("X-Duplicate-Of"))
		require.Equal(t, b, decodeBot(t, dup))
		again := decodeBot(t, e.must(http.StatusCreated, "POST", "/v1/bots/import?duplicate=copy", string(out.body)))
		require.NotEqual(t, b.ID, again.ID, "a generated id")
		require.Equal(t, content(b), content(again))
	}
	// v2 is the default format.
	out := e.must(http.StatusOK, "GET", "/v1/bots/imp-v3/card", "")
	require.Equal(t, "chara_card_v2", out.json(t)["spec"])
}

func TestImportExportPNG(t *testing.T) {
	e := newBotsEnv(t, Config{})
	r := e.must(http.StatusCreated, "POST", "/v1/bots/import", cardFixture(t, "v3_both.png"), "Content-Type: image/png")
	ayaka := decodeBot(t, r)
	require.Equal(t, "Ayaka", ayaka.Name, "ccv3 is preferred over chara")

	// Multipart form field "file".
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("file", "seraphina.png")
	require.NoError(t, err)
	_, err = fw.Write([]byte(cardFixture(t, "v2_text.png")))
	require.NoError(t, err)
	require.NoError(t, mw.Close())
	sera := decodeBot(t, e.must(http.StatusCreated, "POST", "/v1/bots/import?duplicate=copy", body.String(), "Content-Type: "+mw.FormDataContentType()))
	require.Equal(t, "Seraphina", sera.Name)
	require.Len(t, sera.Lorebook.Entries, 3)

	out := e.must(http.StatusOK, "GET", "/v1/bots/"+sera.ID+"/card?format=png", "")
	require.Equal(t, "image/png", out.header.Get("Content-Type"))
	require.Equal(t, `attachment; filename="`+sera.ID+`.png"`, out.header.Get("Content-Disposition"))
	require.True(t, bytes.HasPrefix(out.body, []byte("\x89PNG\r\n\x1a\n")))
	again := decodeBot(t, e.must(http.StatusCreated, "POST", "/v1/bots/import?duplicate=copy", string(out.body), "Content-Type: image/png"))
	require.Equal(t, content(sera), content(again), "PNG export round-trips")
}

// The same card imported twice is one bot: the second import answers the
// first's bot (200, X-Duplicate-Of), or 409 when ?id= asked for another;
// a changed card is a new bot; ?duplicate=copy makes a copy on purpose.
func TestImportDuplicate(t *testing.T) {
	e := newBotsEnv(t, Config{})
	orig := cardFixture(t, "v2_full.json")
	first := decodeBot(t, e.must(http.StatusCreated, "POST", "/v1/bots/import?id=sera", orig))

	r := e.must(http.StatusOK, "POST", "/v1/bots/import", orig)
	require.Equal(t, "sera", r.header.Get("X-Duplicate-Of"))
	require.Equal(t, "/v1/bots/sera", r.header.Get("Location"))
	require.Equal(t, first, decodeBot(t, r))
	// The same card inside a PNG is the same card.
	png := e.must(http.StatusOK, "GET", "/v1/bots/sera/card?format=png", "")
	require.Equal(t, "sera", e.must(http.StatusOK, "POST", "/v1/bots/import", string(png.body), "Content-Type: image/png").header.Get("X-Duplicate-Of"))

	code, msg := e.must(http.StatusConflict, "POST", "/v1/bots/import?id=sera2", orig).errorCode(t)
	require.Equal(t, "conflict", code)
	require.Contains(t, msg, `already bot "sera" (duplicate_of)`)
	e.must(http.StatusNotFound, "GET", "/v1/bots/sera2", "")

	changed := strings.Replace(orig, "gentle, protective, curious", "gentle, protective, stubborn", 2)
	e.must(http.StatusCreated, "POST", "/v1/bots/import?id=sera3", changed)
	e.must(http.StatusCreated, "POST", "/v1/bots/import?id=sera4&duplicate=copy", orig)
	e.must(http.StatusBadRequest, "POST", "/v1/bots/import?duplicate=maybe", orig)

	// Once edited, the bot is no longer that card.
	e.must(http.StatusOK, "PATCH", "/v1/bots/sera", `{"personality":"fierce"}`)
	e.must(http.StatusOK, "PATCH", "/v1/bots/sera4", `{"personality":"calm"}`)
	e.must(http.StatusCreated, "POST", "/v1/bots/import?id=sera5", orig)
}

func TestImportErrors(t *testing.T) {
	e := newBotsEnv(t, Config{})
	for _, tc := range []struct {
		name, body, ctype, field, msg string
	}{
		{"garbage", "this is not a card", "", "card", "neither a PNG"},
		{"malformed JSON", `{"spec":`, "", "card", "not valid JSON"},
		{"empty", " ", "", "body", "empty"},
		{"png without a card", cardFixture(t, "no_card.png"), "image/png", "card", "no chara or ccv3"},
		{"broken png", cardFixture(t, "v2_text.png")[:300], "image/png", "card", "PNG"},
		{"wrong type", `{"spec":"chara_card_v2","data":{"name":"x","tags":"a"}}`, "", "data.tags", "array of strings"},
		{"no name", `{"spec":"chara_card_v3","data":{"description":"x"}}`, "", "data.name", "required"},
		{"invalid longmem settings", `{"spec":"chara_card_v2","data":{"name":"x","extensions":{"longmem":{"model":{"temperature":5}}}}}`, "", "temperature", "5"},
		{"multipart without file", "--x\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nv\r\n--x--\r\n", "multipart/form-data; boundary=x", "file", "file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var headers []string
			if tc.ctype != "" {
				headers = append(headers, "Content-Type: "+tc.ctype)
			}
			r := e.must(http.StatusBadRequest, "POST", "/v1/bots/import", tc.body, headers...)
			code, msg := r.errorCode(t)
			require.Equal(t, "invalid_request", code)
			require.Contains(t, msg, tc.field)
			require.Contains(t, msg, tc.msg)
		})
	}
	list := e.must(http.StatusOK, "GET", "/v1/bots", "").json(t)
	require.Empty(t, list["bots"], "a bad card changes nothing")

	e.must(http.StatusCreated, "POST", "/v1/bots", ariaJSON)
	code, msg := e.must(http.StatusBadRequest, "GET", "/v1/bots/aria/card?format=docx", "").errorCode(t)
	require.Equal(t, "invalid_request", code)
	require.Contains(t, msg, "format")
	e.must(http.StatusNotFound, "GET", "/v1/bots/nobody/card", "")
	e.must(http.StatusConflict, "POST", "/v1/bots/import?id=aria", cardFixture(t, "v1.json"))
}

func TestLoreTest(t *testing.T) {
	e := newBotsEnv(t, Config{})
	e.must(http.StatusCreated, "POST", "/v1/bots", `{"id":"k","name":"Mel","lorebook":{"scan_depth":1,"entries":[
		{"id":1,"keys":["castle"],"content":"{{char}} guards the castle.","enabled":true,"insertion_order":2},
		{"id":2,"keys":["moat"],"content":"The moat is deep.","enabled":true,"insertion_order":1},
		{"id":5,"keys":[],"constant":true,"content":"Always.","enabled":true},
		{"id":6,"keys":["castle"],"content":"off","enabled":false}]}}`)
	var got loreTestResponse
	r := e.must(http.StatusOK, "POST", "/v1/bots/k/lore/test", `{"text":"Is the Castle far?","recent":["the moat froze","moat again, too old"]}`)
	require.NoError(t, json.Unmarshal(r.body, &got))
	require.Equal(t, loreTestResponse{
		Triggered: []loreTestEntry{
			{ID: 2, Content: "The moat is deep.", Reasons: []string{`key "moat" in recent turn 1`}},
			{ID: 1, Content: "Mel guards the castle.", Reasons: []string{`key "castle" in message`}},
		},
		Constant: []int{5},
	}, got)

	r = e.must(http.StatusOK, "POST", "/v1/bots/k/lore/test", `{"text":"nothing here"}`)
	require.JSONEq(t, `{"triggered":[],"constant":[5]}`, string(r.body))
	e.must(http.StatusBadRequest, "POST", "/v1/bots/k/lore/test", `{"txt":"x"}`)
	e.must(http.StatusNotFound, "POST", "/v1/bots/none/lore/test", `{"text":"x"}`)
}
