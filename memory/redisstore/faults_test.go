package redisstore_test

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/memory"
	"github.com/longmem/longmem/memory/redisstore"
	"github.com/longmem/longmem/memory/redisstore/redistest"
)

// TestUnavailable makes the server fail for real — stopped with SIGSTOP,
// then killed — and checks every call says memory.ErrUnavailable, that an
// append retried with its idempotency key after the server resumes is
// stored exactly once, and that the caller's own cancellation stays a
// context error.
func TestUnavailable(t *testing.T) {
	srv := redistest.StartProcess(t)
	s, err := redisstore.New(t.Context(), redisstore.Config{Addrs: []string{srv.Addr}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	ctx := t.Context()
	_, err = s.CreateConversation(ctx, memory.Conversation{ID: "kettle"})
	require.NoError(t, err)
	turn := []memory.Turn{{Role: memory.RoleUser, Content: "The kettle whistles twice before it boils."}}
	opts := memory.AppendOptions{IdempotencyKey: "k1", RequestHash: "h1"}

	requireUnavailable := func(what string, err error) {
		t.Helper()
		require.Error(t, err, what)
		require.True(t, errors.Is(err, memory.ErrUnavailable), "%s: %v", what, err)
	}

	// Stopped: the connection is accepted by the kernel, nothing answers;
	// the client's read timeout ends each call.
	srv.Signal(t, syscall.SIGSTOP)
	_, err = s.AppendTurns(ctx, "", "kettle", turn, opts)
	requireUnavailable("append to a stopped server", err)
	requireUnavailable("ping a stopped server", s.Ping(ctx))

	// A caller that gives up gets its own error back, not an outage.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = s.GetConversation(cctx, "", "kettle")
	require.ErrorIs(t, err, context.Canceled)
	require.False(t, errors.Is(err, memory.ErrUnavailable), "%v", err)

	// Resumed: the append sent before the timeout may have run; the retry
	// with the same key stores it exactly once.
	srv.Signal(t, syscall.SIGCONT)
	got, err := s.AppendTurns(ctx, "", "kettle", turn, opts)
	require.NoError(t, err)
	require.Len(t, got, 1)
	all, err := s.Turns(ctx, "", "kettle", 0, 0)
	require.NoError(t, err)
	require.Len(t, all, 1, "the retried append is stored once")

	// Killed: connections are refused.
	srv.Signal(t, syscall.SIGKILL)
	_, err = s.AppendTurns(ctx, "", "kettle", turn, memory.AppendOptions{})
	requireUnavailable("append to a killed server", err)
	_, err = s.GetConversation(ctx, "", "kettle")
	requireUnavailable("get from a killed server", err)
	_, err = s.ListConversations(ctx, memory.ListOptions{})
	requireUnavailable("list on a killed server", err)
	requireUnavailable("ping a killed server", s.Ping(ctx))
	require.False(t, strings.Contains(memory.ErrUnavailable.Error(), srv.Addr))
}

// TestTranslate: what Translate leaves alone.
func TestTranslate(t *testing.T) {
	require.NoError(t, redisstore.Translate(nil))
	for _, err := range []error{context.Canceled, context.DeadlineExceeded, memory.ErrNotFound, errors.New("decode: bad json")} {
		require.False(t, errors.Is(redisstore.Translate(err), memory.ErrUnavailable), "%v", err)
	}
}
