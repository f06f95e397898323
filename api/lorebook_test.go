package api

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/bots"
)

// A SillyTavern World Info file becomes a bot's lorebook (a new version,
// If-Match honoured), triggers by its own case and whole-word settings, and
// comes back out field for field.
func TestLorebookWorldInfo(t *testing.T) {
	e := newBotsEnv(t, Config{})
	e.must(http.StatusCreated, "POST", "/v1/bots", `{"id":"vell","name":"Vell"}`)
	wi := cardFixture(t, "worldinfo.json")

	// The card importer names the right route.
	r := e.must(http.StatusBadRequest, "POST", "/v1/bots/import", wi)
	_, msg := r.errorCode(t)
	require.Contains(t, msg, "PUT /v1/bots/{id}/lorebook")

	// A stale If-Match changes nothing.
	e.must(http.StatusPreconditionFailed, "PUT", "/v1/bots/vell/lorebook", wi, "If-Match: "+bots.ETag("vell", 7))
	require.Nil(t, decodeBot(t, e.must(http.StatusOK, "GET", "/v1/bots/vell", "")).Lorebook)

	r = e.must(http.StatusOK, "PUT", "/v1/bots/vell/lorebook", wi, "If-Match: "+bots.ETag("vell", 1), "X-Author: dora")
	require.Equal(t, "worldinfo", r.header.Get("X-Lorebook-Format"))
	b := decodeBot(t, r)
	require.Equal(t, 2, b.Version)
	require.Equal(t, "dora", b.Author)
	require.Len(t, b.Lorebook.Entries, 10)

	// Matching follows the file's settings: "Vell" is case sensitive,
	// "tide" matches inside words.
	r = e.must(http.StatusOK, "POST", "/v1/bots/vell/lore/test", `{"text":"a riptide near vell"}`)
	var lt loreTestResponse
	require.NoError(t, json.Unmarshal(r.body, &lt))
	require.Len(t, lt.Triggered, 1)
	require.Equal(t, 2, lt.Triggered[0].ID)
	require.Equal(t, []int{6}, lt.Constant)

	// Out again as World Info, and as longmem's lorebook (which PUTs back).
	out := e.must(http.StatusOK, "GET", "/v1/bots/vell/lorebook?format=worldinfo", "")
	require.Equal(t, bots.ETag("vell", 2), out.header.Get("ETag"))
	sameJSON(t, wi, string(out.body))
	own := e.must(http.StatusOK, "GET", "/v1/bots/vell/lorebook", "")
	r = e.must(http.StatusOK, "PUT", "/v1/bots/vell/lorebook", string(own.body))
	require.Equal(t, "lorebook", r.header.Get("X-Lorebook-Format"))
	require.Equal(t, b.Lorebook, decodeBot(t, r).Lorebook)
	out = e.must(http.StatusOK, "GET", "/v1/bots/vell/lorebook?format=worldinfo", "")
	sameJSON(t, wi, string(out.body))

	// A card's character_book, and a whole card.
	r = e.must(http.StatusOK, "PUT", "/v1/bots/vell/lorebook", cardFixture(t, "v2_full.json"))
	require.Equal(t, "card", r.header.Get("X-Lorebook-Format"))
	require.Equal(t, "Eldwood lore", decodeBot(t, r).Lorebook.Name)

	// Errors name the field and change nothing.
	before := decodeBot(t, e.must(http.StatusOK, "GET", "/v1/bots/vell", ""))
	for body, field := range map[string]string{
		`{"entries":{"0":{"key":["a"],"position":"top"}}}`:       "entries.0.position",
		`{"entries":[{"keys":["a"],"selective_logic":"maybe"}]}`: "lorebook.entries[0].selective_logic",
		`[1]`: "lorebook",
	} {
		r := e.must(http.StatusBadRequest, "PUT", "/v1/bots/vell/lorebook", body)
		require.Equal(t, field, r.json(t)["error"].(map[string]any)["field"], string(r.body))
	}
	require.Equal(t, before, decodeBot(t, e.must(http.StatusOK, "GET", "/v1/bots/vell", "")))
	e.must(http.StatusBadRequest, "GET", "/v1/bots/vell/lorebook?format=docx", "")
	e.must(http.StatusNotFound, "PUT", "/v1/bots/nobody/lorebook", wi)
	e.must(http.StatusCreated, "POST", "/v1/bots", `{"id":"plain","name":"Plain"}`)
	e.must(http.StatusNotFound, "GET", "/v1/bots/plain/lorebook", "")
}
