package card_test

import (
	"bytes"
	"encoding/json"
	"image"
	_ "image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/bots"
	"github.com/longmem/longmem/bots/card"
	"github.com/longmem/longmem/memory"
)

func read(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

// generic decodes JSON keeping numbers as written.
func generic(t testing.TB, b []byte) map[string]any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	require.NoError(t, d.Decode(&m))
	return m
}

func TestParseV2(t *testing.T) {
	b, err := card.ParseJSON(read(t, "v2_full.json"))
	require.NoError(t, err)
	require.Equal(t, "Seraphina", b.Name)
	require.Equal(t, "{{char}} is a guardian of the Eldwood forest.", b.Description)
	require.Equal(t, "gentle, protective, curious", b.Personality)
	require.Equal(t, "{{user}} wakes up in {{char}}'s glade.", b.Scenario)
	require.Equal(t, "*Seraphina kneels beside you.* You're awake, {{user}}!", b.FirstMessage)
	require.Equal(t, "<START>\n{{user}}: Who are you?\n{{char}}: I am Seraphina.", b.ExampleDialogues)
	require.Equal(t, "Works best with a temperature around 0.8. 日本語もOK", b.CreatorNotes)
	require.Equal(t, "Write {{char}}'s next reply in a fantasy roleplay with {{user}}.", b.SystemPrompt)
	require.Equal(t, "Stay in character; describe the forest vividly.", b.PostHistoryInstructions)
	require.Equal(t, []string{"*The glade is quiet.* Hello?", "Another greeting with \"quotes\" and a tab\t."}, b.AlternateGreetings)
	require.Equal(t, []string{"fantasy", "female", "guardian"}, b.Tags)
	require.Equal(t, "cardsmith", b.Creator)
	require.Equal(t, "1.2.0", b.CharacterVersion)
	require.Equal(t, json.Number("12345678901234567890"), b.Extensions["big_number"], "numbers verbatim")
	require.Equal(t, map[string]any{"service": "none", "rate": json.Number("1.25")}, b.Extensions["agnai/voice"])
	require.Equal(t, []any{true, json.Number("1.5")}, b.Card["x_unknown_data_field"])
	require.Equal(t, map[string]any{"avatar": "none", "talkativeness": "0.5", "fav": false, "create_date": "2023-5-20 @12h 01m 02s 100ms"}, b.Card[card.RootKey])

	lb := b.Lorebook
	require.NotNil(t, lb)
	require.Equal(t, "Eldwood lore", lb.Name)
	require.Equal(t, "The forest and its people.", lb.Description)
	require.Equal(t, 3, lb.ScanDepth)
	require.Equal(t, 512, lb.TokenBudget)
	require.True(t, lb.RecursiveScanning)
	require.Equal(t, map[string]any{"st/book": map[string]any{"x": json.Number("1")}, card.FieldsKey: map[string]any{"x_unknown_book_field": "kept"}}, lb.Extensions)
	require.Len(t, lb.Entries, 3)
	e0, e7, e3 := lb.Entries[0], lb.Entries[1], lb.Entries[2]
	require.Equal(t, bots.LoreEntry{ID: 0, Name: "Eldwood", Comment: "the forest", Keys: []string{"Eldwood", "forest"}, SelectiveLogic: bots.LogicAndAny,
		InsertionOrder: 100, Priority: 10, Position: "before_char", Enabled: true, Content: "The Eldwood is an ancient forest where {{char}} lives.",
		Extensions: map[string]any{"position": json.Number("0"), "exclude_recursion": false, "probability": json.Number("100"), "useProbability": true,
			"depth": json.Number("4"), "selectiveLogic": json.Number("0"), "group": "", "match_whole_words": nil}}, e0)
	require.Equal(t, 7, e7.ID)
	require.Equal(t, []string{"night", "dark"}, e7.SecondaryKeys)
	require.True(t, e7.Selective)
	require.Equal(t, bots.LogicAndAll, e7.SelectiveLogic, "SillyTavern's extensions.selectiveLogic 3")
	require.True(t, e7.CaseSensitive)
	require.Equal(t, "after_char", e7.Position)
	require.Equal(t, 3, e3.ID)
	require.True(t, e3.Constant)
	require.False(t, e3.Enabled)
	require.Empty(t, e3.Keys)
	require.Equal(t, map[string]any{card.FieldsKey: map[string]any{"probability": json.Number("80"), "x_unknown_entry_field": map[string]any{"keep": []any{"me"}}}}, e3.Extensions)
}

func TestParseV3(t *testing.T) {
	b, err := card.ParseJSON(read(t, "v3_full.json"))
	require.NoError(t, err)
	require.Equal(t, "Ayaka", b.Name)
	require.Equal(t, "いらっしゃいませ！", b.FirstMessage)
	require.Nil(t, b.AlternateGreetings)
	for _, k := range []string{"assets", "nickname", "creator_notes_multilingual", "source", "group_only_greetings", "creation_date", "modification_date"} {
		require.Contains(t, b.Card, k)
	}
	require.Equal(t, "Aya", b.Card["nickname"])
	require.Equal(t, json.Number("1700000000"), b.Card["creation_date"])
	require.Equal(t, []any{"Welcome, everyone!"}, b.Card["group_only_greetings"])
	require.NotContains(t, b.Card, card.RootKey, "no unknown top-level fields")

	es := b.Lorebook.Entries
	require.Equal(t, []int{0, 1, 2}, []int{es[0].ID, es[1].ID, es[2].ID}, "a string id and a duplicate id get free ids")
	require.Equal(t, map[string]any{card.FieldsKey: map[string]any{"id": "menu", "use_regex": true}}, es[0].Extensions)
	require.Nil(t, es[1].Extensions, "use_regex false is what an export writes by default")
	require.Equal(t, map[string]any{card.FieldsKey: map[string]any{"id": json.Number("1")}}, es[2].Extensions)
	require.Equal(t, []string{"猫", "cat"}, es[1].Keys)
}

// TestRoundTripExact: a card exported in its own format is the card
// imported, field for field, unknown fields and extensions included.
func TestRoundTripExact(t *testing.T) {
	for _, tc := range []struct {
		file   string
		format card.Format
	}{{"v2_full.json", card.V2}, {"v3_full.json", card.V3}} {
		t.Run(tc.file, func(t *testing.T) {
			orig := read(t, tc.file)
			b, err := card.ParseJSON(orig)
			require.NoError(t, err)
			out, err := card.Export(b, tc.format)
			require.NoError(t, err)
			require.Equal(t, generic(t, orig), generic(t, out))
			again, err := card.ParseJSON(out)
			require.NoError(t, err)
			require.Equal(t, b, again)
		})
	}
}

func TestRoundTripAcrossFormats(t *testing.T) {
	for _, file := range []string{"v1.json", "v2_full.json", "v3_full.json"} {
		b, err := card.ParseJSON(read(t, file))
		require.NoError(t, err)
		for _, f := range []card.Format{card.V2, card.V3} {
			out, err := card.Export(b, f)
			require.NoError(t, err)
			m := generic(t, out)
			require.Equal(t, "chara_card_"+string(f), m["spec"])
			again, err := card.ParseJSON(out)
			require.NoError(t, err)
			require.Equal(t, b, again, "%s as %s", file, f)
		}
	}
}

func TestParseV1(t *testing.T) {
	b, err := card.ParseJSON(read(t, "v1.json"))
	require.NoError(t, err)
	require.Equal(t, bots.Bot{Name: "Old Tom", Description: "A lighthouse keeper.", Personality: "gruff", Scenario: "A stormy night.",
		FirstMessage: "Who goes there?", ExampleDialogues: "{{user}}: Hi\n{{char}}: Hmph.",
		Card: map[string]any{card.RootKey: map[string]any{"avatar": "none", "chat": "Old Tom - 2023-5-1", "create_date": "2023-5-1"}}}, b)
}

func TestLongmemFieldsRoundTrip(t *testing.T) {
	temp, topP := 0.7, 0.9
	off := false
	b := bots.Bot{Name: "Mel", Model: bots.ModelConfig{Model: "hunyuan-a13b", ContextWindow: 32768, MaxOutputTokens: 512, Temperature: &temp, TopP: &topP, Stop: []string{"\nUser:"}},
		Memory:   bots.MemoryPolicy{RecentShare: 0.2, LoreShare: 0.15, Summaries: &off},
		Metadata: map[string]any{"team": "story"}, Extensions: map[string]any{"other": "x"},
		Lorebook: &bots.Lorebook{Entries: []bots.LoreEntry{{ID: 4, Keys: []string{"k"}, Content: "c", Enabled: true, SelectiveLogic: bots.LogicNotAny, Selective: true, SecondaryKeys: []string{"s"}}}}}
	for _, f := range []card.Format{card.V2, card.V3} {
		out, err := card.Export(b, f)
		require.NoError(t, err)
		m := generic(t, out)
		ext := m["data"].(map[string]any)["extensions"].(map[string]any)
		require.Contains(t, ext, card.LongmemKey, "what only longmem knows travels in the extensions")
		entry := m["data"].(map[string]any)["character_book"].(map[string]any)["entries"].([]any)[0].(map[string]any)
		require.Equal(t, json.Number("2"), entry["extensions"].(map[string]any)["selectiveLogic"], "SillyTavern's NOT ANY")
		again, err := card.ParseJSON(out)
		require.NoError(t, err)
		require.Equal(t, b.Model, again.Model)
		require.Equal(t, b.Memory, again.Memory)
		require.Equal(t, b.Metadata, again.Metadata)
		require.Equal(t, b.Extensions, again.Extensions)
		require.Equal(t, bots.LogicNotAny, again.Lorebook.Entries[0].SelectiveLogic)
		require.Equal(t, map[string]any{"selectiveLogic": json.Number("2")}, again.Lorebook.Entries[0].Extensions)
	}
}

func TestPNG(t *testing.T) {
	v2, err := card.ParseJSON(read(t, "v2_full.json"))
	require.NoError(t, err)
	v3, err := card.ParseJSON(read(t, "v3_full.json"))
	require.NoError(t, err)
	v1, err := card.ParseJSON(read(t, "v1.json"))
	require.NoError(t, err)
	for _, tc := range []struct {
		file string
		want bots.Bot
	}{{"v2_text.png", v2}, {"v3_both.png", v3}, {"v1_ztxt.png", v1}} {
		got, err := card.ParsePNG(read(t, tc.file))
		require.NoError(t, err, tc.file)
		require.Equal(t, tc.want, got, tc.file)
		got, err = card.Parse(read(t, tc.file))
		require.NoError(t, err, tc.file)
		require.Equal(t, tc.want, got, tc.file)
	}
	_, err = card.ParsePNG(read(t, "no_card.png"))
	require.ErrorIs(t, err, memory.ErrInvalid)
	require.ErrorContains(t, err, "no chara or ccv3")

	// Export into a placeholder and into a supplied image.
	for _, img := range [][]byte{nil, read(t, "v2_text.png")} {
		for _, b := range []bots.Bot{v2, v3, v1} {
			out, err := card.ExportPNG(b, img)
			require.NoError(t, err)
			cfg, _, err := image.Decode(bytes.NewReader(out))
			require.NoError(t, err, "a valid PNG")
			require.Positive(t, cfg.Bounds().Dx())
			got, err := card.ParsePNG(out)
			require.NoError(t, err)
			require.Equal(t, b, got, "the ccv3 chunk round-trips")
			require.Equal(t, 1, bytes.Count(out, []byte("tEXtchara\x00")), "one chara chunk")
			require.Equal(t, 1, bytes.Count(out, []byte("tEXtccv3\x00")), "one ccv3 chunk")
			if img != nil {
				require.Contains(t, string(out), "Software\x00hand-made test image", "other chunks kept")
			}
			// The chara chunk alone (a V2-only reader) holds the same bot.
			i := bytes.Index(out, []byte("tEXtccv3\x00"))
			v2only := append(bytes.Clone(out[:i-4]), out[i+4+int(beUint32(out[i-4:]))+4:]...)
			got, err = card.ParsePNG(v2only)
			require.NoError(t, err)
			require.Equal(t, b, got)
		}
	}
}

func beUint32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in, field string
	}{
		{"garbage", "hello", "card"},
		{"array", `[1,2]`, "card"},
		{"trailing", `{"name":"a"} {}`, "card"},
		{"no name", `{"spec":"chara_card_v2","spec_version":"2.0","data":{"description":"x"}}`, "data.name"},
		{"V1 without name", `{"description":"x"}`, "name"},
		{"unknown spec", `{"spec":"chara_card_v9","data":{"name":"x"}}`, "spec"},
		{"no data", `{"spec":"chara_card_v2","name":"x"}`, "data"},
		{"data not object", `{"spec":"chara_card_v3","data":"x"}`, "data"},
		{"name not string", `{"spec":"chara_card_v2","data":{"name":5}}`, "data.name"},
		{"tags not array", `{"spec":"chara_card_v2","data":{"name":"x","tags":"a"}}`, "data.tags"},
		{"tag not string", `{"spec":"chara_card_v2","data":{"name":"x","tags":["a",1]}}`, "data.tags[1]"},
		{"extensions not object", `{"spec":"chara_card_v2","data":{"name":"x","extensions":[]}}`, "data.extensions"},
		{"book not object", `{"spec":"chara_card_v2","data":{"name":"x","character_book":[]}}`, "data.character_book"},
		{"entries not array", `{"spec":"chara_card_v2","data":{"name":"x","character_book":{"entries":{}}}}`, "data.character_book.entries"},
		{"entry not object", `{"spec":"chara_card_v2","data":{"name":"x","character_book":{"entries":[{},3]}}}`, "data.character_book.entries[1]"},
		{"key not string", `{"spec":"chara_card_v2","data":{"name":"x","character_book":{"entries":[{"keys":[true]}]}}}`, "data.character_book.entries[0].keys[0]"},
		{"order not whole", `{"spec":"chara_card_v2","data":{"name":"x","character_book":{"entries":[{"keys":["a"],"insertion_order":1.5}]}}}`, "data.character_book.entries[0].insertion_order"},
		{"order too big", `{"spec":"chara_card_v2","data":{"name":"x","character_book":{"entries":[{"keys":["a"],"insertion_order":1e12}]}}}`, "data.character_book.entries[0].insertion_order"},
		{"enabled not bool", `{"spec":"chara_card_v2","data":{"name":"x","character_book":{"entries":[{"enabled":"yes"}]}}}`, "data.character_book.entries[0].enabled"},
		{"scan depth string", `{"spec":"chara_card_v2","data":{"name":"x","character_book":{"scan_depth":"4"}}}`, "data.character_book.scan_depth"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := card.ParseJSON([]byte(tc.in))
			require.ErrorIs(t, err, memory.ErrInvalid)
			var ie *memory.InvalidError
			require.ErrorAs(t, err, &ie)
			require.Equal(t, tc.field, ie.Field, err.Error())
		})
	}
	// Parse tells a body that is neither a PNG nor JSON (a JPEG, a typo'd
	// path's "Not Found") from JSON that is malformed.
	for in, want := range map[string]string{
		"hello":                "neither a PNG",
		"\xff\xd8\xff\xe0JFIF": "neither a PNG",
		`{"name":`:             "not valid JSON",
	} {
		_, err := card.Parse([]byte(in))
		require.ErrorIs(t, err, memory.ErrInvalid)
		require.ErrorContains(t, err, want, in)
	}
	png := read(t, "v2_text.png")
	for name, in := range map[string][]byte{
		"truncated":   png[:len(png)/2],
		"no IHDR":     append(append([]byte{}, png[:8]...), png[33:]...),
		"bad base64":  bytes.Replace(png, []byte("tEXtchara\x00ew"), []byte("tEXtchara\x00!!"), 1),
		"only header": png[:8],
	} {
		_, err := card.ParsePNG(in)
		require.ErrorIs(t, err, memory.ErrInvalid, name)
	}
	_, err := card.Export(bots.Bot{Name: "x"}, card.PNG)
	require.ErrorIs(t, err, memory.ErrInvalid, "png is ExportPNG's")
	_, err = card.ExportPNG(bots.Bot{Name: "x"}, []byte("not a png"))
	require.ErrorIs(t, err, memory.ErrInvalid)
	require.True(t, strings.HasPrefix(string(mustPlaceholder(t)), "\x89PNG"))
}

func mustPlaceholder(t *testing.T) []byte {
	b, err := card.Placeholder("Mel")
	require.NoError(t, err)
	return b
}

// A ccv3 chunk that does not parse falls back to the chara chunk.
func TestPNGFallsBackToChara(t *testing.T) {
	v1, err := card.ParseJSON(read(t, "v1.json"))
	require.NoError(t, err)
	out, err := card.ExportPNG(v1, nil)
	require.NoError(t, err)
	i := bytes.Index(out, []byte("tEXtccv3\x00")) + len("tEXtccv3\x00")
	copy(out[i:], "!!!!") // same length: the chunk stays well-formed, its base64 does not
	got, err := card.ParsePNG(out)
	require.NoError(t, err)
	require.Equal(t, v1, got)

	j := bytes.Index(out, []byte("tEXtchara\x00")) + len("tEXtchara\x00")
	copy(out[j:], "!!!!")
	_, err = card.ParsePNG(out)
	require.ErrorIs(t, err, memory.ErrInvalid)
	require.ErrorContains(t, err, "ccv3 chunk is not base64", "the preferred chunk's error")
}

// Cards exported by other editors carry blank keys and keyless entries;
// they import (blank keys dropped, the keyless entry kept: it never
// triggers) instead of failing validation.
func TestParseLenientLoreKeys(t *testing.T) {
	b, err := card.ParseJSON([]byte(`{"spec":"chara_card_v2","spec_version":"2.0","data":{"name":"Aria",
		"character_book":{"entries":[{"id":1,"keys":["", "castle", "  "],"content":"A castle.","enabled":true,"insertion_order":0},
		{"id":2,"keys":[],"content":"Orphan.","enabled":true,"insertion_order":1}]}}}`))
	require.NoError(t, err)
	b.ID = "aria"
	require.NoError(t, bots.Validate(b))
	require.Equal(t, []string{"castle"}, b.Lorebook.Entries[0].Keys)
	require.Empty(t, b.Lorebook.Entries[1].Keys)
	got := b.Lorebook.Match([]string{"the castle and the orphan"})
	require.Len(t, got, 1)
	require.Equal(t, 1, got[0].Entry.ID)
}
