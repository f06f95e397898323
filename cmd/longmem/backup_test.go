package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/api"
	"github.com/longmem/longmem/memory"
	"github.com/longmem/longmem/memory/embedded"
)

// TestBackupWhileServingAndRestore backs up a serving embedded store while
// clients keep appending, then restores it into a new data directory:
// every turn acknowledged before the backup began is in the copy, the
// copy's seqs are gapless, and each of its turns is what the server
// stored. Without the admin key the route refuses; restore refuses to
// overwrite a store unless forced, and never one a server holds.
func TestBackupWhileServingAndRestore(t *testing.T) {
	cfg := defaultConfig()
	cfg.Storage.Data = t.TempDir()
	cfg.API.AdminKey = "admin-secret"
	base, stop := startApp(t, cfg, io.Discard)
	client := &http.Client{}
	defer client.CloseIdleConnections()
	code, out := call(client, "POST", base+"/v1/conversations", "", `{"id":"log"}`)
	require.Equal(t, http.StatusCreated, code, out)
	appendN := func(from, n int) {
		for i := from; i < from+n; i++ {
			seq, errText := appendTurn(client, base, "log", fmt.Sprintf("k%d", i), fmt.Sprintf("entry %d: all quiet at the light", i))
			require.Empty(t, errText)
			require.Equal(t, int64(i), seq)
		}
	}
	appendN(1, 300)

	env := map[string]string{"LONGMEM_ADMIN_KEY": "admin-secret"}
	file := filepath.Join(t.TempDir(), "backup.db")
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // appends go on during the backup
		defer wg.Done()
		appendN(301, 200)
	}()
	code, stdout, stderr := runCmd(t, env, "backup", "--url", base, "--out", file)
	wg.Wait()
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "backup:")

	// Refused without the admin key, or with a tenant's.
	code, _, stderr = runCmd(t, nil, "backup", "--url", base, "--out", file+".x")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "401")
	_, err := os.Stat(file + ".x")
	require.True(t, os.IsNotExist(err), "a refused backup leaves no file")

	// Restore refuses the served directory, and a present store without --force.
	code, _, stderr = runCmd(t, nil, "restore", "--in", file, "--data", cfg.Storage.Data, "--force")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "holds it")
	code, _, stderr = runCmd(t, nil, "restore", "--in", file, "--data", cfg.Storage.Data)
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "--force")
	stop()

	dir := t.TempDir()
	code, _, stderr = runCmd(t, nil, "restore", "--in", file, "--data", dir)
	require.Equal(t, 0, code, stderr)
	restored, err := embedded.Open(embedded.Config{Dir: dir})
	require.NoError(t, err)
	defer restored.Close()
	original, err := embedded.Open(embedded.Config{Dir: cfg.Storage.Data})
	require.NoError(t, err)
	defer original.Close()
	ctx := context.Background()
	got, err := restored.Turns(ctx, "", "log", 0, 0)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(got), 300, "everything acknowledged before the backup")
	want, err := original.Turns(ctx, "", "log", 0, 0)
	require.NoError(t, err)
	require.Len(t, want, 500)
	for i, tr := range got {
		require.Equal(t, int64(i+1), tr.Seq, "gapless")
		require.Equal(t, want[i], tr)
	}
	c, err := restored.GetConversation(ctx, "", "log")
	require.NoError(t, err)
	require.Equal(t, int64(len(got)), c.LastSeq)
	// The restored store takes appends after its own last seq.
	next, err := restored.AppendTurns(ctx, "", "log", []memory.Turn{{Role: memory.RoleUser, Content: "after the restore"}}, memory.AppendOptions{})
	require.NoError(t, err)
	require.Equal(t, int64(len(got)+1), next[0].Seq)
}

func TestAdminKeyIsASecret(t *testing.T) {
	cfg := printConfig(t, map[string]string{"LONGMEM_ADMIN_KEY": "s3cret"})
	require.Equal(t, api.Redacted, cfg.API.AdminKey)
	code, out, _ := runCmd(t, map[string]string{"LONGMEM_ADMIN_KEY": "s3cret"}, "serve", "--print-config")
	require.Equal(t, 0, code)
	require.NotContains(t, out, "s3cret")
}
