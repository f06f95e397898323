package bots_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/bots"
	"github.com/longmem/longmem/retrieval"
)

func entry(id int, keys ...string) bots.LoreEntry {
	return bots.LoreEntry{ID: id, Keys: keys, Enabled: true, Content: "content of entry"}
}

func ids(ms []bots.LoreMatch) []int {
	out := []int{}
	for _, m := range ms {
		out = append(out, m.Entry.ID)
	}
	return out
}

func TestLoreMatch(t *testing.T) {
	sel := func(e bots.LoreEntry, logic string, secondary ...string) bots.LoreEntry {
		e.Selective, e.SelectiveLogic, e.SecondaryKeys = true, logic, secondary
		return e
	}
	cs := func(e bots.LoreEntry) bots.LoreEntry { e.CaseSensitive = true; return e }
	off := func(e bots.LoreEntry) bots.LoreEntry { e.Enabled = false; return e }
	constant := func(e bots.LoreEntry) bots.LoreEntry { e.Constant = true; return e }
	substr := func(e bots.LoreEntry) bots.LoreEntry {
		e.Extensions = map[string]any{"match_whole_words": false}
		return e
	}
	re := func(e bots.LoreEntry) bots.LoreEntry {
		e.Extensions = map[string]any{bots.CardFieldsKey: map[string]any{"use_regex": true}}
		e.Selective, e.SecondaryKeys = true, []string{"never present"}
		return e
	}
	for _, tc := range []struct {
		name    string
		entries []bots.LoreEntry
		scan    []string
		want    []int
	}{
		{"key in message", []bots.LoreEntry{entry(1, "castle"), entry(2, "dragon")}, []string{"We reach the castle."}, []int{1}},
		{"case-insensitive by default", []bots.LoreEntry{entry(1, "Castle")}, []string{"the CASTLE gates"}, []int{1}},
		{"case-sensitive entry", []bots.LoreEntry{cs(entry(1, "Castle")), cs(entry(2, "Moat"))}, []string{"the castle and the Moat"}, []int{2}},
		{"whole word only", []bots.LoreEntry{entry(1, "cat"), entry(2, "cats")}, []string{"concatenate the category of cats"}, []int{2}},
		{"whole word at edges and punctuation", []bots.LoreEntry{entry(1, "cat"), entry(2, "dog")}, []string{"cat", "(dog)"}, []int{1, 2}},
		{"substring override", []bots.LoreEntry{substr(entry(1, "cat"))}, []string{"concatenate"}, []int{1}},
		{"key with punctuation", []bots.LoreEntry{entry(1, "Dr. Who")}, []string{"meet dr. who today"}, []int{1}},
		{"CJK substring", []bots.LoreEntry{entry(1, "城堡"), entry(2, "龙")}, []string{"我们到了城堡门口"}, []int{1}},
		{"CJK key inside Latin text", []bots.LoreEntry{entry(1, "東京")}, []string{"I love東京so much"}, []int{1}},
		{"accented whole word", []bots.LoreEntry{entry(1, "café"), entry(2, "caf")}, []string{"the Café is open"}, []int{1}},
		{"disabled never", []bots.LoreEntry{off(entry(1, "castle")), off(constant(entry(2)))}, []string{"castle"}, []int{}},
		{"constant always", []bots.LoreEntry{constant(entry(1)), entry(2, "x")}, []string{"nothing"}, []int{1}},
		{"recent turns scanned", []bots.LoreEntry{entry(1, "moat")}, []string{"hi", "older: the moat"}, []int{1}},
		{"empty keys never", []bots.LoreEntry{entry(1, "", "  ")}, []string{"anything at all"}, []int{}},
		{"and_any", []bots.LoreEntry{sel(entry(1, "king"), bots.LogicAndAny, "crown", "throne"), sel(entry(2, "king"), bots.LogicAndAny, "sword")}, []string{"the king on his throne"}, []int{1}},
		{"and_any is the default", []bots.LoreEntry{sel(entry(1, "king"), "", "crown"), sel(entry(2, "king"), "", "throne")}, []string{"the king on his throne"}, []int{2}},
		{"and_all", []bots.LoreEntry{sel(entry(1, "king"), bots.LogicAndAll, "crown", "throne"), sel(entry(2, "king"), bots.LogicAndAll, "throne", "his")}, []string{"the king on his throne"}, []int{2}},
		{"not_any", []bots.LoreEntry{sel(entry(1, "king"), bots.LogicNotAny, "crown", "throne"), sel(entry(2, "king"), bots.LogicNotAny, "crown", "sword")}, []string{"the king on his throne"}, []int{2}},
		{"not_all", []bots.LoreEntry{sel(entry(1, "king"), bots.LogicNotAll, "his", "throne"), sel(entry(2, "king"), bots.LogicNotAll, "crown", "throne")}, []string{"the king on his throne"}, []int{2}},
		{"secondary without selective ignored", []bots.LoreEntry{{ID: 1, Keys: []string{"king"}, SecondaryKeys: []string{"crown"}, Enabled: true}}, []string{"the king"}, []int{1}},
		{"secondary alone does not trigger", []bots.LoreEntry{sel(entry(1, "king"), bots.LogicAndAny, "throne")}, []string{"an empty throne"}, []int{}},
		{"regex keys (V3 use_regex)", []bots.LoreEntry{re(entry(1, "/lat+e|espresso/i")), re(entry(2, `^\d{4}$`)), re(entry(3, "cast(le")), re(entry(4, "ORDER")), re(cs(entry(5, "ORDER")))}, []string{"One LATTE please", "to order"}, []int{1, 4}},
		{"no scan texts", []bots.LoreEntry{entry(1, "castle"), constant(entry(2))}, nil, []int{2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lb := &bots.Lorebook{Entries: tc.entries}
			require.Equal(t, tc.want, ids(lb.Match(tc.scan)))
		})
	}
}

func TestLoreMatchOrderAndReasons(t *testing.T) {
	a := entry(7, "castle")
	a.InsertionOrder = 10
	b := entry(3, "moat", "castle")
	b.InsertionOrder = 10
	c := entry(9)
	c.Constant, c.InsertionOrder = true, 20
	d := entry(1, "gate")
	d.InsertionOrder = 5
	d.Selective, d.SecondaryKeys, d.SelectiveLogic = true, []string{"guard", "castle"}, bots.LogicAndAll
	lb := &bots.Lorebook{Entries: []bots.LoreEntry{a, b, c, d}}
	got := lb.Match([]string{"Open the gate!", "The castle has a guard."})
	require.Equal(t, []int{1, 3, 7, 9}, ids(got), "insertion order, then id")
	require.Equal(t, []string{`key "gate" in message`, `secondary key "guard" in recent turn 1`, `secondary key "castle" in recent turn 1`}, got[0].Reasons)
	require.Equal(t, []string{`key "castle" in recent turn 1`}, got[1].Reasons, "the first key that matches")
	require.Equal(t, []string{bots.ReasonConstant}, got[3].Reasons)

	n := entry(2, "king")
	n.Selective, n.SecondaryKeys, n.SelectiveLogic = true, []string{"crown"}, bots.LogicNotAny
	got = (&bots.Lorebook{Entries: []bots.LoreEntry{n}}).Match([]string{"the king"})
	require.Equal(t, []string{`key "king" in message`, "no secondary key present"}, got[0].Reasons)
}

func TestLoreMatchRecursive(t *testing.T) {
	chain := func(id int, key, content string) bots.LoreEntry {
		e := entry(id, key)
		e.Content = content
		e.InsertionOrder = id
		return e
	}
	entries := []bots.LoreEntry{
		chain(1, "castle", "The castle is guarded by Sir Alden."),
		chain(2, "Alden", "Sir Alden owns a falcon."),
		chain(3, "falcon", "The falcon is named Wren."),
		chain(4, "Wren", "Wren once belonged to the queen."),
		chain(5, "queen", "The queen is away."),
		chain(6, "unrelated", "never"),
	}
	lb := &bots.Lorebook{Entries: entries}
	require.Equal(t, []int{1}, ids(lb.Match([]string{"to the castle"})), "no recursion unless enabled")

	lb.RecursiveScanning = true
	got := lb.Match([]string{"to the castle"})
	require.Equal(t, []int{1, 2, 3, 4}, ids(got), "bounded: %d passes after the first", bots.MaxLoreRecursion)
	require.Equal(t, []string{`key "Alden" in entry 1`}, got[1].Reasons)
	require.Equal(t, []string{`key "Wren" in entry 3`}, got[3].Reasons)

	// A cycle ends: each entry triggers once.
	cyc := &bots.Lorebook{RecursiveScanning: true, Entries: []bots.LoreEntry{chain(1, "a1", "see b2"), chain(2, "b2", "see a1")}}
	require.Equal(t, []int{1, 2}, ids(cyc.Match([]string{"a1"})))

	// A constant entry's content feeds recursion too.
	k := chain(8, "", "The castle looms.")
	k.Constant = true
	lb2 := &bots.Lorebook{RecursiveScanning: true, Entries: []bots.LoreEntry{k, chain(1, "castle", "x")}}
	require.Equal(t, []int{1, 8}, ids(lb2.Match([]string{"hello"})))

	// SillyTavern's recursion flags, as a card or World Info file sets
	// them in the entry's extensions.
	flag := func(e bots.LoreEntry, name string, v any) bots.LoreEntry {
		e.Extensions = map[string]any{name: v}
		return e
	}
	for _, tc := range []struct {
		name    string
		entries []bots.LoreEntry
		want    []int
	}{
		{"prevent_recursion: its content triggers nothing", []bots.LoreEntry{flag(chain(1, "castle", "Sir Alden"), "prevent_recursion", true), chain(2, "Alden", "x")}, []int{1}},
		{"exclude_recursion: only the scan triggers it", []bots.LoreEntry{chain(1, "castle", "Sir Alden"), flag(chain(2, "Alden", "x"), "exclude_recursion", true)}, []int{1}},
		{"exclude_recursion: the scan still does", []bots.LoreEntry{chain(1, "castle", "x"), flag(chain(2, "castle", "y"), "exclude_recursion", true)}, []int{1, 2}},
		{"delay_until_recursion: not by the scan", []bots.LoreEntry{chain(1, "castle", "x"), flag(chain(2, "castle", "y"), "delay_until_recursion", true)}, []int{1}},
		{"delay_until_recursion: by recursion", []bots.LoreEntry{chain(1, "castle", "Sir Alden"), flag(chain(2, "Alden", "y"), "delay_until_recursion", float64(1))}, []int{1, 2}},
		{"false flags change nothing", []bots.LoreEntry{flag(chain(1, "castle", "Sir Alden"), "prevent_recursion", false), flag(chain(2, "Alden", "x"), "exclude_recursion", false)}, []int{1, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lb := &bots.Lorebook{RecursiveScanning: true, Entries: tc.entries}
			require.Equal(t, tc.want, ids(lb.Match([]string{"to the castle"})))
		})
	}
}

func TestLoreMatchGroups(t *testing.T) {
	grp := func(id, order int, group string, ext map[string]any) bots.LoreEntry {
		e := entry(id, "rain")
		e.InsertionOrder = order
		e.Extensions = map[string]any{"group": group}
		for k, v := range ext {
			e.Extensions[k] = v
		}
		return e
	}
	for _, tc := range []struct {
		name    string
		entries []bots.LoreEntry
		want    []int
	}{
		{"highest order wins", []bots.LoreEntry{grp(1, 10, "sky", nil), grp(2, 30, "sky", nil), grp(3, 20, "sky", nil)}, []int{2}},
		{"override beats order", []bots.LoreEntry{grp(1, 10, "sky", map[string]any{"group_override": true}), grp(2, 30, "sky", nil)}, []int{1}},
		{"weight beats order", []bots.LoreEntry{grp(1, 10, "sky", map[string]any{"group_weight": float64(150)}), grp(2, 30, "sky", nil)}, []int{1}},
		{"different groups both stay", []bots.LoreEntry{grp(1, 10, "sky", nil), grp(2, 30, "sea", nil)}, []int{1, 2}},
		{"no group: all stay", []bots.LoreEntry{grp(1, 10, "", nil), grp(2, 30, " ", nil)}, []int{1, 2}},
		{"several groups: must win each", []bots.LoreEntry{grp(1, 50, "sky,sea", nil), grp(2, 60, "sea", nil), grp(3, 5, "sky", nil)}, []int{2}},
		{"tie: lowest id", []bots.LoreEntry{grp(4, 10, "sky", nil), grp(2, 10, "sky", nil)}, []int{2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lb := &bots.Lorebook{Entries: tc.entries}
			require.Equal(t, tc.want, ids(lb.Match([]string{"rain again"})))
		})
	}
}

func TestLoreMatchNil(t *testing.T) {
	var lb *bots.Lorebook
	require.Empty(t, lb.Match([]string{"castle"}))
	require.Equal(t, bots.DefaultLoreScanDepth, lb.EffectiveScanDepth())
	require.Equal(t, 2, (&bots.Lorebook{ScanDepth: 2}).EffectiveScanDepth())
}

func TestLoreSource(t *testing.T) {
	book := &bots.Lorebook{TokenBudget: 300, Entries: []bots.LoreEntry{
		{ID: 1, Keys: []string{"{{char}}'s sword"}, Content: "{{Char}} forged it for <USER>.", Enabled: true, InsertionOrder: 2, Priority: 7, Comment: "sword"},
		{ID: 2, Name: "rules", Content: "{{user}} is a guest of {{char}}.", Constant: true, Enabled: true, InsertionOrder: 9},
		{ID: 3, Keys: []string{"castle"}, Content: "x", Enabled: true},
	}}
	src := bots.LoreSource{Book: book, Char: "Mel", User: "Ann"}
	got := src.Triggered([]string{"Show me Mel's sword"})
	require.Equal(t, []retrieval.LoreItem{
		{ID: 1, Name: "sword", Content: "Mel forged it for Ann.", Order: 2, Priority: 7, Reasons: []string{`key "Mel's sword" in message`}},
		{ID: 2, Name: "rules", Content: "Ann is a guest of Mel.", Constant: true, Order: 9, Reasons: []string{bots.ReasonConstant}},
	}, got)
	require.Equal(t, "{{Char}} forged it for <USER>.", book.Entries[0].Content, "the stored lorebook is untouched")
	require.Equal(t, 300, src.LoreTokenBudget())
	require.Empty(t, bots.LoreSource{}.Triggered([]string{"x"}))
	require.Zero(t, bots.LoreSource{}.LoreTokenBudget())
}

func TestLoreMatchRegexReason(t *testing.T) {
	e := entry(4, "/caf[eé]/")
	e.Extensions = map[string]any{bots.CardFieldsKey: map[string]any{"use_regex": true}}
	got := (&bots.Lorebook{Entries: []bots.LoreEntry{e}}).Match([]string{"hi", "the café"})
	require.Len(t, got, 1)
	require.Equal(t, []string{`regex "/caf[eé]/" in recent turn 1`}, got[0].Reasons)
	require.Empty(t, (&bots.Lorebook{Entries: []bots.LoreEntry{e}}).Match([]string{"the CAFE"}), "/…/ without i is case-sensitive")
}

// FuzzLoreMatch: any key and text, never a panic; a key found as a whole
// word (case-insensitively) triggers its entry.
func FuzzLoreMatch(f *testing.F) {
	f.Add("castle", "the Castle!", false, false)
	f.Add("城堡", "我们到了城堡门口", true, false)
	f.Add("/a+(b/i", "aab", false, true)
	f.Add("\xff", "\xff\xfe", false, false)
	f.Fuzz(func(t *testing.T, key, text string, cs, regex bool) {
		e := entry(1, key)
		e.CaseSensitive = cs
		if regex {
			e.Extensions = map[string]any{bots.CardFieldsKey: map[string]any{"use_regex": true}}
		}
		lb := &bots.Lorebook{RecursiveScanning: true, Entries: []bots.LoreEntry{e, entry(2, text)}}
		got := lb.Match([]string{text, key})
		if !regex && !cs && key != "" && key == strings.TrimSpace(key) && strings.EqualFold(key, strings.ToLower(key)) {
			require.Contains(t, ids(got), 1, "a key always matches itself as a scanned text")
		}
	})
}
