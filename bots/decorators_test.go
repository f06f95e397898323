package bots_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/bots"
)

func TestParseDecorators(t *testing.T) {
	for _, tc := range []struct {
		name, content, text string
		want                bots.Decorators
	}{
		{"none", "  The castle has three towers.\n", "  The castle has three towers.\n", bots.Decorators{}},
		{"a mention later is text", "Write @@activate in chat.", "Write @@activate in chat.", bots.Decorators{}},
		{"stripped, unknown ignored", "@@depth 4\n@@role system\n\nThe castle has three towers.\n@@not_a_decorator here",
			"The castle has three towers.\n@@not_a_decorator here", bots.Decorators{Names: []string{"depth", "role"}}},
		{"activate", "\n@@activate\nAlways here.", "Always here.", bots.Decorators{Activate: true, Names: []string{"activate"}}},
		{"dont_activate", "@@dont_activate\r\nNever.", "Never.", bots.Decorators{DontActivate: true, Names: []string{"dont_activate"}}},
		{"position", "@@position before_desc\nx", "x", bots.Decorators{Position: bots.PositionBeforeChar, Names: []string{"position"}}},
		{"position after", "@@position AFTER_DESC\nx", "x", bots.Decorators{Position: bots.PositionAfterChar, Names: []string{"position"}}},
		{"unsupported position", "@@position personality\nx", "x", bots.Decorators{Names: []string{"position"}}},
		{"fallback of an unknown one", "@@risu_only 4\n@@@activate\nx", "x", bots.Decorators{Activate: true, Names: []string{"risu_only", "@activate"}}},
		{"fallback of a known one is skipped", "@@position after_desc\n@@@position before_desc\nx", "x",
			bots.Decorators{Position: bots.PositionAfterChar, Names: []string{"position", "@position"}}},
		{"first of a name counts", "@@position before_desc\n@@position after_desc\nx", "x",
			bots.Decorators{Position: bots.PositionBeforeChar, Names: []string{"position", "position"}}},
		{"only decorators", "@@activate\n@@depth 0", "", bots.Decorators{Activate: true, Names: []string{"activate", "depth"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, text := bots.ParseDecorators(tc.content)
			require.Equal(t, tc.want, d)
			require.Equal(t, tc.text, text)
		})
	}
}

func TestLoreDecorators(t *testing.T) {
	lb := &bots.Lorebook{Entries: []bots.LoreEntry{
		{ID: 1, Keys: []string{"castle"}, Enabled: true, Content: "@@depth 4\n@@role system\nThe castle has three towers."},
		{ID: 2, Keys: []string{"castle"}, Enabled: true, Content: "@@dont_activate\nSecret: the castle is empty."},
		{ID: 3, Constant: true, Enabled: true, Content: "@@dont_activate\nA constant that is switched off."},
		{ID: 4, Keys: []string{"dragon"}, Enabled: true, Content: "@@activate\nMagic costs blood."},
		{ID: 5, Keys: []string{"never"}, Enabled: false, Content: "@@activate\nDisabled wins."},
		{ID: 6, Keys: []string{"castle"}, Enabled: true, Content: "@@activate\n@@dont_activate\nActivate wins."},
		{ID: 7, Keys: []string{"castle"}, Enabled: true, Position: bots.PositionAfterChar, Content: "@@position before_desc\nPlaced before."},
	}}
	ms := lb.Match([]string{"Tell me about the castle"})
	require.Equal(t, []int{1, 4, 6, 7}, ids(ms))
	require.Equal(t, "The castle has three towers.", ms[0].Text)
	require.Equal(t, []string{bots.ReasonActivate}, ms[1].Reasons)
	require.True(t, ms[1].Always)
	require.False(t, ms[0].Always)

	items := bots.LoreSource{Book: lb, Char: "Mel"}.Triggered([]string{"Tell me about the castle"})
	require.Len(t, items, 4)
	require.Equal(t, "The castle has three towers.", items[0].Content, "decorators are not sent to the model")
	require.Equal(t, "Magic costs blood.", items[1].Content)
	require.True(t, items[1].Constant, "@@activate: in every prompt, with the constant entries")
	require.False(t, items[0].Before)
	require.True(t, items[3].Before, "@@position before_desc overrides position after_char")
	require.Equal(t, "@@depth 4\n@@role system\nThe castle has three towers.", lb.Entries[0].Content, "the stored content keeps them")

	// Recursive scanning reads the text, not the decorators.
	rec := &bots.Lorebook{RecursiveScanning: true, Entries: []bots.LoreEntry{
		{ID: 1, Keys: []string{"castle"}, Enabled: true, Content: "@@role moat\nThe castle."},
		{ID: 2, Keys: []string{"moat"}, Enabled: true, Content: "The moat is deep."},
	}}
	require.Equal(t, []int{1}, ids(rec.Match([]string{"castle"})))
}
