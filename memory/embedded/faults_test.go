package embedded_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/memory"
	"github.com/longmem/longmem/memory/embedded"
	"github.com/longmem/longmem/memory/embedded/disktest"
)

// TestFullDisk fills a real (tmpfs) disk under the store: the append that
// does not fit fails with memory.ErrUnavailable and changes nothing, Ping
// says unavailable until space is freed, every acknowledged turn is there
// exactly once — also after a reopen — and appends work again.
func TestFullDisk(t *testing.T) {
	dir := disktest.Small(t, 1<<20)
	filler := disktest.Fill(t, dir, 256<<10)
	s, err := embedded.Open(embedded.Config{Dir: dir})
	require.NoError(t, err)
	closed := false
	t.Cleanup(func() {
		if !closed {
			_ = s.Close()
		}
	})
	ctx := context.Background()
	_, err = s.CreateConversation(ctx, memory.Conversation{ID: "attic"})
	require.NoError(t, err)
	require.NoError(t, s.Ping(ctx))

	content := strings.Repeat("The attic stairs creak on the third step. ", 100) // ~4 KiB
	var acked []int64
	var fullErr error
	for i := 0; i < 1000 && fullErr == nil; i++ {
		turns, err := s.AppendTurns(ctx, "", "attic", []memory.Turn{{Role: memory.RoleUser, Content: content}},
			memory.AppendOptions{IdempotencyKey: fmt.Sprint("k", i), RequestHash: "h"})
		if err != nil {
			fullErr = err
			break
		}
		acked = append(acked, turns[0].Seq)
	}
	require.Error(t, fullErr, "1000 appends of 4 KiB fitted in a 1 MiB disk")
	require.True(t, errors.Is(fullErr, memory.ErrUnavailable), "%v", fullErr)
	require.NotEmpty(t, acked)
	perr := s.Ping(ctx)
	require.True(t, errors.Is(perr, memory.ErrUnavailable), "ping on a full disk: %v", perr)

	requireTurns := func(s *embedded.Store, want []int64) {
		t.Helper()
		got, err := s.Turns(ctx, "", "attic", 0, 0)
		require.NoError(t, err)
		seqs := make([]int64, len(got))
		for i, tr := range got {
			seqs[i] = tr.Seq
		}
		require.Equal(t, want, seqs)
	}
	requireTurns(s, acked)

	// Space freed: the probe write succeeds, appends work again.
	require.NoError(t, os.Remove(filler))
	require.NoError(t, s.Ping(ctx))
	more, err := s.AppendTurns(ctx, "", "attic", []memory.Turn{{Role: memory.RoleUser, Content: "Someone oiled the hinge."}}, memory.AppendOptions{})
	require.NoError(t, err)
	require.Equal(t, acked[len(acked)-1]+1, more[0].Seq, "the failed append used no seq")
	acked = append(acked, more[0].Seq)
	requireTurns(s, acked)

	require.NoError(t, s.Close())
	closed = true
	s2, err := embedded.Open(embedded.Config{Dir: dir})
	require.NoError(t, err)
	defer s2.Close()
	requireTurns(s2, acked)
}
