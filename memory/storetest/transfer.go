package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/memory"
)

// transferTests are the subtests of the optional memory.TurnImporter.
func transferTests() []struct {
	name string
	fn   func(t *testing.T, s memory.Store)
} {
	return []struct {
		name string
		fn   func(t *testing.T, s memory.Store)
	}{
		{"ImportTurnsKeepsSeqs", withOptional(testImportTurns)},
		{"ImportTurnsInvalid", withOptional(testImportInvalid)},
	}
}

func importTurn(seq int64, content string) memory.Turn {
	return memory.Turn{Seq: seq, Role: memory.RoleAssistant, Name: "Orla", Content: content, Tokens: 3,
		CreatedAt: time.Date(2024, 3, 1, 10, 0, int(seq), 7000, time.UTC), Metadata: map[string]any{"k": "v"}}
}

func testImportTurns(t *testing.T, s memory.Store, im memory.TurnImporter) {
	ctx := context.Background()
	mustCreate(t, s, memory.Conversation{ID: "c"})
	in := []memory.Turn{importTurn(2, "two"), importTurn(3, "three"), importTurn(5, "five")}
	n, err := im.ImportTurns(ctx, tenant, "c", in, 7)
	require.NoError(t, err)
	require.Equal(t, 3, n)
	c, err := s.GetConversation(ctx, tenant, "c")
	require.NoError(t, err)
	require.Equal(t, int64(7), c.LastSeq, "the source's forgotten last turns keep their seqs used")
	got, err := s.Turns(ctx, tenant, "c", 0, 0)
	require.NoError(t, err)
	require.Len(t, got, 3)
	for i, tr := range got {
		want := in[i]
		want.ConversationID = "c"
		require.True(t, want.CreatedAt.Equal(tr.CreatedAt))
		tr.CreatedAt = want.CreatedAt
		require.Equal(t, want, tr)
	}

	// Again: nothing written. Overlapping: only the new ones.
	n, err = im.ImportTurns(ctx, tenant, "c", in, 7)
	require.NoError(t, err)
	require.Zero(t, n)
	n, err = im.ImportTurns(ctx, tenant, "c", []memory.Turn{importTurn(5, "five"), importTurn(6, "six?"), importTurn(9, "nine")}, 9)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	got, err = s.Turns(ctx, tenant, "c", 0, 0)
	require.NoError(t, err)
	require.Equal(t, []int64{2, 3, 5, 9}, seqs(got))

	// Appends continue after the imported seqs.
	appended := mustAppend(t, s, "c", userTurns("ten"))
	require.Equal(t, int64(10), appended[0].Seq)
}

func testImportInvalid(t *testing.T, s memory.Store, im memory.TurnImporter) {
	ctx := context.Background()
	mustCreate(t, s, memory.Conversation{ID: "c"})
	for _, tc := range []struct {
		turns []memory.Turn
		last  int64
	}{
		{[]memory.Turn{importTurn(3, "a"), importTurn(2, "b")}, 5},
		{[]memory.Turn{importTurn(0, "a")}, 5},
		{[]memory.Turn{importTurn(4, "a")}, 3},
		{[]memory.Turn{{Seq: 1, Role: memory.RoleUser, Content: "no time"}}, 1},
		{[]memory.Turn{importTurn(1, "")}, 1},
	} {
		_, err := im.ImportTurns(ctx, tenant, "c", tc.turns, tc.last)
		require.ErrorIs(t, err, memory.ErrInvalid)
	}
	c, err := s.GetConversation(ctx, tenant, "c")
	require.NoError(t, err)
	require.Zero(t, c.LastSeq, "invalid imports change nothing")
	_, err = im.ImportTurns(ctx, tenant, "missing", []memory.Turn{importTurn(1, "a")}, 1)
	require.ErrorIs(t, err, memory.ErrNotFound)
}
