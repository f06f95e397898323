package card_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/bots"
	"github.com/longmem/longmem/bots/card"
	"github.com/longmem/longmem/memory"
)

// plain decodes JSON with numbers as float64, so documents written with
// different number types compare by value.
func plain(t testing.TB, b []byte) any {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal(b, &v), string(b))
	return v
}

func TestParseWorldInfo(t *testing.T) {
	lb, form, err := card.ParseLorebook(read(t, "worldinfo.json"))
	require.NoError(t, err)
	require.Equal(t, card.LoreWorldInfo, form)
	require.NoError(t, bots.Validate(bots.Bot{ID: "vell", Name: "Vell", Lorebook: lb}))
	require.Len(t, lb.Entries, 10)
	for i, e := range lb.Entries {
		require.Equal(t, i, e.ID, "uid → id, in key order")
	}
	e := lb.Entries[0]
	require.Equal(t, []string{"lighthouse"}, e.Keys)
	require.Equal(t, "The lighthouse", e.Comment)
	require.Equal(t, 100, e.InsertionOrder)
	require.Equal(t, bots.PositionAfterChar, e.Position)
	require.True(t, e.Enabled)
	require.Equal(t, bots.LogicAndAny, e.SelectiveLogic)
	require.Equal(t, json.Number("4"), e.Extensions["depth"])
	require.Equal(t, json.Number("100"), e.Extensions["probability"])
	require.Contains(t, e.Extensions, "match_whole_words")
	require.Nil(t, e.Extensions["match_whole_words"])
	require.Equal(t, map[string]any{"addMemo": true}, e.Extensions[card.WorldInfoFieldsKey], "a field longmem has no name for is kept")

	require.True(t, lb.Entries[1].CaseSensitive)
	require.Equal(t, bots.PositionBeforeChar, lb.Entries[1].Position)
	require.Equal(t, false, lb.Entries[2].Extensions["match_whole_words"])
	require.Equal(t, json.Number("4"), lb.Entries[2].Extensions["position"], "at depth: kept")
	require.False(t, lb.Entries[4].Enabled, "disable")
	require.Equal(t, []string{"storm", "gale"}, lb.Entries[5].SecondaryKeys)
	require.Equal(t, bots.LogicNotAny, lb.Entries[5].SelectiveLogic)
	require.True(t, lb.Entries[6].Constant)
	require.Equal(t, true, lb.Entries[9].Extensions["group_override"])
	require.Equal(t, map[string]any{"originalData": map[string]any{"name": "Vell", "note": "a field SillyTavern keeps from an import"}},
		lb.Extensions[card.WorldInfoFieldsKey])
}

// A World Info file comes back field for field: directly, through a card
// (as SillyTavern embeds one) and through longmem's own lorebook JSON (what
// GET /v1/bots/{id} holds).
func TestWorldInfoRoundTrip(t *testing.T) {
	orig := read(t, "worldinfo.json")
	lb, _, err := card.ParseLorebook(orig)
	require.NoError(t, err)
	inCard, err := card.Export(bots.Bot{Name: "Vell", Lorebook: lb}, card.V2)
	require.NoError(t, err)
	own, err := json.Marshal(lb)
	require.NoError(t, err)
	for _, tc := range []struct {
		in   []byte
		form card.LoreFormat
	}{{orig, card.LoreWorldInfo}, {inCard, card.LoreCard}, {own, card.LoreLongmem}} {
		back, form, err := card.ParseLorebook(tc.in)
		require.NoError(t, err)
		require.Equal(t, tc.form, form)
		out, err := card.ExportWorldInfo(*back)
		require.NoError(t, err)
		require.Equal(t, plain(t, orig), plain(t, out), "through %s", tc.form)
	}
}

// What only longmem knows survives a trip through a World Info file.
func TestWorldInfoKeepsLongmemFields(t *testing.T) {
	lb := bots.Lorebook{Name: "Book", ScanDepth: 6, TokenBudget: 300, RecursiveScanning: true, Entries: []bots.LoreEntry{
		{ID: 3, Name: "Gate", Comment: "note", Keys: []string{"gate"}, Priority: 7, Enabled: true, Content: "The gate is iron.",
			SelectiveLogic: bots.LogicAndAll, Selective: true, SecondaryKeys: []string{"night"}, Position: bots.PositionBeforeChar},
		{ID: 5, Name: "Well", Keys: []string{"well"}, Content: "The well is dry.", CaseSensitive: true,
			SelectiveLogic: bots.LogicAndAny, Position: bots.PositionAfterChar},
	}}
	out, err := card.ExportWorldInfo(lb)
	require.NoError(t, err)
	back, form, err := card.ParseLorebook(out)
	require.NoError(t, err)
	require.Equal(t, card.LoreWorldInfo, form)
	require.Equal(t, lb.Name, back.Name)
	require.Equal(t, lb.ScanDepth, back.ScanDepth)
	require.Equal(t, lb.TokenBudget, back.TokenBudget)
	require.True(t, back.RecursiveScanning)
	for i, want := range lb.Entries {
		if want.Comment == "" { // SillyTavern's title is the comment
			want.Comment, want.Name = want.Name, ""
		}
		got := back.Entries[i]
		got.Extensions = nil
		require.Equal(t, want, got)
	}
	var doc struct {
		Entries map[string]map[string]any `json:"entries"`
	}
	require.NoError(t, json.Unmarshal(out, &doc))
	require.Equal(t, "Well", doc.Entries["5"]["comment"], "a name without a comment is SillyTavern's title")
	require.Equal(t, float64(0), doc.Entries["3"]["position"])
	require.Equal(t, float64(3), doc.Entries["3"]["selectiveLogic"])
	require.Equal(t, true, doc.Entries["5"]["disable"])
}

// Matching follows the file's case and whole-word settings the way
// SillyTavern reads them.
func TestWorldInfoMatching(t *testing.T) {
	lb, _, err := card.ParseLorebook(read(t, "worldinfo.json"))
	require.NoError(t, err)
	lb.RecursiveScanning = false
	for _, tc := range []struct {
		name, text string
		want       []int
	}{
		{"constant only", "good morning", []int{6}},
		{"whole word by default (null)", "the lighthouses of the south", []int{6}},
		{"word", "is the lighthouse lit?", []int{6, 0}},
		{"caseSensitive true", "we sailed to vell", []int{6}},
		{"caseSensitive true, right case", "we sailed to Vell", []int{6, 1}},
		{"matchWholeWords false: inside a word", "a riptide caught us", []int{6, 2}},
		{"matchWholeWords false: any case (caseSensitive false)", "TIDE tables", []int{6, 2}},
		{"matchWholeWords true: one word stays whole", "the ferryman waved", []int{6}},
		{"matchWholeWords true: several words match anywhere", "the salt markets are busy", []int{6, 3}},
		{"disabled never", "a smuggler's cove", []int{6}},
		{"NOT ANY secondary: absent", "the keeper smiled", []int{6, 5}},
		{"NOT ANY secondary: present", "the keeper feared the gale", []int{6}},
		{"regex key", "ask the Harbormaster", []int{6, 7}},
		{"one of a group: the override wins", "what weather tomorrow?", []int{6, 9}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := []int{}
			for _, m := range lb.Match([]string{tc.text}) {
				got = append(got, m.Entry.ID)
			}
			require.Equal(t, tc.want, got)
		})
	}
}

func TestParseLorebookErrors(t *testing.T) {
	for _, tc := range []struct{ name, in, field string }{
		{"not JSON", `{"entries":`, "lorebook"},
		{"array", `[]`, "lorebook"},
		{"entry not object", `{"entries":{"0":5}}`, "entries.0"},
		{"key not strings", `{"entries":{"0":{"key":[1]}}}`, "entries.0.key[0]"},
		{"position not number", `{"entries":{"0":{"key":["a"],"position":"after"}}}`, "entries.0.position"},
		{"logic out of range", `{"entries":{"0":{"key":["a"],"selectiveLogic":7}}}`, "entries.0.selectiveLogic"},
		{"caseSensitive string", `{"entries":{"0":{"key":["a"],"caseSensitive":"yes"}}}`, "entries.0.caseSensitive"},
		{"lorebook entries not array", `{"entries":"x"}`, "lorebook.entries"},
		{"a V1 card is no lorebook", `{"name":"Mel","description":"x"}`, "lorebook.entries"},
		{"card without a book", `{"spec":"chara_card_v2","spec_version":"2.0","data":{"name":"x"}}`, "data.character_book"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := card.ParseLorebook([]byte(tc.in))
			var ie *memory.InvalidError
			require.ErrorAs(t, err, &ie)
			require.Equal(t, tc.field, ie.Field, err.Error())
		})
	}
}

// The card importer tells a World Info file where it belongs.
func TestCardImporterNamesTheLorebookRoute(t *testing.T) {
	_, err := card.Parse(read(t, "worldinfo.json"))
	require.ErrorIs(t, err, memory.ErrInvalid)
	require.ErrorContains(t, err, "World Info")
	require.ErrorContains(t, err, "PUT /v1/bots/{id}/lorebook")
}
