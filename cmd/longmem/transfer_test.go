package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/bots"
	"github.com/longmem/longmem/bots/embeddedbots"
	"github.com/longmem/longmem/memory"
	"github.com/longmem/longmem/memory/embedded"
	"github.com/longmem/longmem/memory/redisstore"
	"github.com/longmem/longmem/memory/redisstore/redistest"
)

// seedTransfer fills an embedded data directory: in tenants "" and "acme",
// c1 (5 turns, the 4th and the 5th forgotten, a summary of 1..3) and c2
// (1,200 turns: more than a page and an import batch), and a bot in acme.
func seedTransfer(t *testing.T, dir string) {
	ctx := context.Background()
	s, err := embedded.Open(embedded.Config{Dir: dir})
	require.NoError(t, err)
	defer s.Close()
	t0 := time.Date(2025, 2, 3, 4, 5, 6, 789000, time.UTC)
	turn := func(i int) memory.Turn {
		return memory.Turn{Role: memory.RoleUser, Name: "Ines", Content: fmt.Sprintf("note %d: the tide was %d cm", i, i*7),
			CreatedAt: t0.Add(time.Duration(i) * time.Minute), Tokens: 9, Metadata: map[string]any{"n": float64(i)}}
	}
	for _, tenant := range []string{"", "acme"} {
		_, err := s.CreateConversation(ctx, memory.Conversation{ID: "c1", Tenant: tenant, UserID: "ines", CreatedAt: t0})
		require.NoError(t, err)
		var ts []memory.Turn
		for i := 1; i <= 5; i++ {
			ts = append(ts, turn(i))
		}
		_, err = s.AppendTurns(ctx, tenant, "c1", ts, memory.AppendOptions{})
		require.NoError(t, err)
		_, err = s.AddSummary(ctx, tenant, "c1", memory.Summary{Level: 0, FromSeq: 1, ToSeq: 3, FromTime: t0, ToTime: t0.Add(3 * time.Minute),
			Content: "tides noted", Tokens: 2, Producer: "extractive", CreatedAt: t0.Add(time.Hour)})
		require.NoError(t, err)
		require.NoError(t, s.DeleteTurn(ctx, tenant, "c1", 4))
		require.NoError(t, s.DeleteTurn(ctx, tenant, "c1", 5))
		_, err = s.CreateConversation(ctx, memory.Conversation{ID: "c2", Tenant: tenant, CreatedAt: t0})
		require.NoError(t, err)
		for from := 1; from <= 1200; from += 400 {
			ts = ts[:0]
			for i := from; i < from+400; i++ {
				ts = append(ts, turn(i))
			}
			_, err = s.AppendTurns(ctx, tenant, "c2", ts, memory.AppendOptions{})
			require.NoError(t, err)
		}
	}
	bs, err := embeddedbots.Open(embeddedbots.Config{Dir: dir})
	require.NoError(t, err)
	defer bs.Close()
	_, err = bs.Create(ctx, "acme", bots.Bot{ID: "keeper", Name: "Keeper", Personality: "kind"}, "ines")
	require.NoError(t, err)
}

// normalized drops what a store sets on its own when a bot or a summary is
// written (times), so exports of two stores compare.
func normalized(t *testing.T, path string) []string {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec))
		if b, ok := rec["bot"].(map[string]any); ok {
			delete(b, "created_at")
			delete(b, "updated_at")
		}
		if sm, ok := rec["summary"].(map[string]any); ok {
			delete(sm, "created_at")
		}
		norm, err := json.Marshal(rec)
		require.NoError(t, err)
		out = append(out, string(norm))
	}
	return out
}

// TestExportImport moves an embedded store into a real redis-server and
// back out: the second export equals the first (seqs with their gaps,
// times, metadata, summaries, bots); importing twice writes nothing the
// second time; an export cut mid-line resumes to the same file.
func TestExportImport(t *testing.T) {
	src := t.TempDir()
	seedTransfer(t, src)
	first := filepath.Join(t.TempDir(), "first.jsonl")
	code, _, errOut := runCmd(t, nil, "export", "--data", src, "--tenants", ",acme", "--out", first)
	require.Equal(t, 0, code, errOut)

	redisAddr := redistest.StartServer(t)
	into := []string{"import", "--backend", "redis", "--redis-addrs", redisAddr, "--in", first}
	code, out, errOut := runCmd(t, nil, into...)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "imported 1 bots, 4 conversations, 2406 turns, 2 summaries")
	code, out, errOut = runCmd(t, nil, into...)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "imported 0 bots, 0 conversations, 0 turns, 0 summaries (already there: 1 bots, 4 conversations, 2406 turns, 2 summaries)")

	second := filepath.Join(t.TempDir(), "second.jsonl")
	code, _, errOut = runCmd(t, nil, "export", "--backend", "redis", "--redis-addrs", redisAddr, "--tenants", ",acme", "--out", second)
	require.Equal(t, 0, code, errOut)
	want, exported := normalized(t, first), normalized(t, second)
	require.Len(t, exported, len(want))
	for i := range want {
		require.Equal(t, want[i], exported[i], "line %d", i+1)
	}

	// The gap of the forgotten last turns stays: the next append is 6.
	rs, err := redisstore.New(t.Context(), redisstore.Config{Addrs: []string{redisAddr}})
	require.NoError(t, err)
	defer rs.Close()
	got, err := rs.AppendTurns(t.Context(), "acme", "c1", []memory.Turn{{Role: memory.RoleUser, Content: "later"}}, memory.AppendOptions{})
	require.NoError(t, err)
	require.Equal(t, int64(6), got[0].Seq)

	// Resume: cut the export in the middle of a line, export --resume.
	whole, err := os.ReadFile(first)
	require.NoError(t, err)
	for _, cut := range []int{len(whole) / 3, len(whole) * 2 / 3, 10} {
		part := filepath.Join(t.TempDir(), "part.jsonl")
		require.NoError(t, os.WriteFile(part, whole[:cut], 0o600))
		code, _, errOut = runCmd(t, nil, "export", "--data", src, "--tenants", ",acme", "--out", part, "--resume")
		require.Equal(t, 0, code, errOut)
		resumed, err := os.ReadFile(part)
		require.NoError(t, err)
		require.True(t, bytes.Equal(whole, resumed), "cut at %d: resumed export differs", cut)
	}
}
