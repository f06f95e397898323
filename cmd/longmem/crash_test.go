package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// server is a `longmem serve` subprocess.
type server struct {
	cmd    *exec.Cmd
	base   string        // http://127.0.0.1:port
	exited chan struct{} // closed once the process has exited and been waited for
}

// syncBuffer is a bytes.Buffer safe for the subprocess's output copier
// and the test to use at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// buildBinary compiles longmem into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "longmem")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// freeAddr returns a loopback address with a port free at the time of the
// call.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// startServer runs `longmem serve --data dir` on a free port and waits
// until /healthz answers.
func startServer(t *testing.T, bin, dir string, logs *syncBuffer) *server {
	t.Helper()
	addr := freeAddr(t)
	return startLongmem(t, bin, []string{"serve", "--data", dir, "--addr", addr}, nil, addr, logs)
}

// waitHealthy polls /healthz until it answers 200, the process exits, or a
// generous deadline passes (a slow machine, not a timing assertion).
func waitHealthy(t *testing.T, base string, exited <-chan struct{}, logs *syncBuffer) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			t.Fatalf("longmem exited before it was healthy:\n%s", logs.String())
		default:
		}
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("longmem not healthy at %s:\n%s", base, logs.String())
}

// ack is an acknowledged append.
type ack struct {
	key, content string
	seq          int64
}

type crashTurn struct {
	Seq     int64  `json:"seq"`
	Content string `json:"content"`
}

func appendOne(client *http.Client, base, key, content string) (*http.Response, []crashTurn, error) {
	body, _ := json.Marshal(map[string]any{"turns": []map[string]string{{"role": "user", "content": content}}})
	req, err := http.NewRequest("POST", base+"/v1/conversations/crash/turns", bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp, nil, err
	}
	var out struct {
		Turns []crashTurn `json:"turns"`
	}
	if resp.StatusCode == http.StatusCreated {
		if err := json.Unmarshal(raw, &out); err != nil {
			return resp, nil, err
		}
	}
	return resp, out.Turns, nil
}

func allTurns(t *testing.T, client *http.Client, base string) []crashTurn {
	t.Helper()
	var all []crashTurn
	after := int64(0)
	for {
		resp, err := client.Get(fmt.Sprintf("%s/v1/conversations/crash/turns?after=%d&limit=1000", base, after))
		require.NoError(t, err)
		var page struct {
			Turns []crashTurn `json:"turns"`
			Next  *int64      `json:"next"`
		}
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&page))
		resp.Body.Close()
		all = append(all, page.Turns...)
		if page.Next == nil {
			return all
		}
		after = *page.Next
	}
}

// TestCrashKeepsAcknowledgedTurns appends from 8 concurrent clients to one
// conversation, kills the server with SIGKILL mid-stream, restarts it on
// the same data directory and checks that every acknowledged turn is there
// exactly once, seqs are gapless, and retries of acknowledged appends
// return the original seqs without writing.
func TestCrashKeepsAcknowledgedTurns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs it as a subprocess")
	}
	const (
		clients   = 8
		killAfter = 400 // acknowledged appends before the kill
	)
	bin := buildBinary(t)
	dir := t.TempDir()
	logs := &syncBuffer{}
	srv := startServer(t, bin, dir, logs)
	base := srv.base
	client := &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: clients},
	}
	defer client.CloseIdleConnections()

	resp, err := client.Post(base+"/v1/conversations", "application/json", strings.NewReader(`{"id":"crash"}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)

	var (
		mu      sync.Mutex
		acks    []ack
		nacked  atomic.Int64
		killed  = make(chan struct{})
		wg      sync.WaitGroup
		badResp atomic.Value // first unexpected non-2xx answer
	)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				key := fmt.Sprintf("client-%d-append-%d", c, i)
				content := fmt.Sprintf("turn %d from client %d", i, c)
				resp, turns, err := appendOne(client, base, key, content)
				if err != nil {
					select {
					case <-killed:
						return // the server is gone; this append is unacknowledged
					default:
						badResp.CompareAndSwap(nil, fmt.Sprintf("append before the kill: %v", err))
						return
					}
				}
				if resp.StatusCode != http.StatusCreated || len(turns) != 1 {
					badResp.CompareAndSwap(nil, fmt.Sprintf("append %s: status %d, %d turns", key, resp.StatusCode, len(turns)))
					return
				}
				mu.Lock()
				acks = append(acks, ack{key: key, content: content, seq: turns[0].Seq})
				mu.Unlock()
				nacked.Add(1)
			}
		}()
	}
	for nacked.Load() < killAfter && badResp.Load() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	close(killed)
	require.NoError(t, srv.cmd.Process.Signal(syscall.SIGKILL))
	<-srv.exited
	wg.Wait()
	require.Nil(t, badResp.Load(), "logs:\n%s", logs.String())
	client.CloseIdleConnections()

	// Restart on the same data.
	srv = startServer(t, bin, dir, logs)
	base = srv.base
	turns := allTurns(t, client, base)

	mu.Lock()
	defer mu.Unlock()
	require.GreaterOrEqual(t, len(acks), killAfter)
	require.GreaterOrEqual(t, len(turns), len(acks), "turns were lost")

	count := map[string]int{}
	seqOf := map[string]int64{}
	for i, tr := range turns {
		require.EqualValues(t, i+1, tr.Seq, "seqs must be gapless 1..N")
		count[tr.Content]++
		seqOf[tr.Content] = tr.Seq
	}
	for content, n := range count {
		require.Equal(t, 1, n, "%q stored %d times", content, n)
	}
	for _, a := range acks {
		require.Equal(t, 1, count[a.content], "acknowledged turn %q (seq %d) is missing", a.content, a.seq)
		require.Equal(t, a.seq, seqOf[a.content], "acknowledged turn %q moved", a.content)
	}

	// Retrying acknowledged appends returns the original seqs and writes
	// nothing.
	for _, a := range acks[:min(len(acks), 50)] {
		resp, got, err := appendOne(client, base, a.key, a.content)
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, resp.StatusCode)
		require.Len(t, got, 1)
		require.Equal(t, a.seq, got[0].Seq)
	}
	require.Len(t, allTurns(t, client, base), len(turns), "a retry wrote a turn")

	// A graceful stop exits 0.
	client.CloseIdleConnections()
	require.NoError(t, srv.cmd.Process.Signal(syscall.SIGTERM))
	<-srv.exited
	require.True(t, srv.cmd.ProcessState.Success(), "exit after SIGTERM: %v\n%s", srv.cmd.ProcessState, logs.String())
	require.Contains(t, logs.String(), "stopped")
	t.Logf("%d appends acknowledged before the kill, %d turns after restart", len(acks), len(turns))
}

// TestCrashDuringCompaction kills `longmem serve` with SIGKILL while its
// worker folds a 20,000-turn import into summaries, restarts it on the
// same data directory, lets it finish, and checks the summaries: every
// level one gapless chain from seq 1, no range covered twice, level 0
// covering every turn older than the recent window.
func TestCrashDuringCompaction(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs it as a subprocess")
	}
	const total = 20000
	bin := buildBinary(t)
	dir := t.TempDir()
	logs := &syncBuffer{}
	srv := startServer(t, bin, dir, logs)
	client := &http.Client{Timeout: 60 * time.Second}
	post := func(base, path string, body any) []byte {
		t.Helper()
		b, err := json.Marshal(body)
		require.NoError(t, err)
		resp, err := client.Post(base+path, "application/json", bytes.NewReader(b))
		require.NoError(t, err)
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		require.Less(t, resp.StatusCode, 300, "%s: %s", path, out)
		return out
	}
	type sum struct {
		Level   int   `json:"level"`
		FromSeq int64 `json:"from_seq"`
		ToSeq   int64 `json:"to_seq"`
	}
	summaries := func(base string) []sum {
		t.Helper()
		resp, err := client.Get(base + "/v1/conversations/big/summaries")
		require.NoError(t, err)
		defer resp.Body.Close()
		var out struct{ Summaries []sum }
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		return out.Summaries
	}
	post(srv.base, "/v1/conversations", map[string]string{"id": "big"})
	// Dated in the past: the conversation is quiet, so the worker folds
	// everything older than the recent window at once.
	at := time.Date(2023, 3, 1, 9, 0, 0, 0, time.UTC)
	for i := 0; i < total; i += 1000 {
		var turns []map[string]any
		for j := i; j < i+1000; j++ {
			turns = append(turns, map[string]any{"role": []string{"user", "assistant"}[j%2],
				"content":    fmt.Sprintf("On visit %d we talked about the garden, the %d tomatoes and my sister's trip to Porto.", j, j%37),
				"created_at": at.Add(time.Duration(j) * 3 * time.Minute)})
		}
		post(srv.base, "/v1/conversations/big/turns", map[string]any{"turns": turns})
	}
	// Kill as soon as the worker has written something.
	deadline := time.Now().Add(2 * time.Minute)
	var atKill []sum
	for atKill = summaries(srv.base); len(atKill) == 0; atKill = summaries(srv.base) {
		require.True(t, time.Now().Before(deadline), "no summary written:\n%s", logs.String())
		time.Sleep(5 * time.Millisecond)
	}
	require.NoError(t, srv.cmd.Process.Signal(syscall.SIGKILL))
	<-srv.exited
	coveredAtKill := int64(0)
	for _, s := range atKill {
		if s.Level == 0 {
			coveredAtKill = max(coveredAtKill, s.ToSeq)
		}
	}
	t.Logf("killed with %d summaries written, level 0 through seq %d of %d", len(atKill), coveredAtKill, total-100)

	srv = startServer(t, bin, dir, logs)
	post(srv.base, "/v1/conversations/big/compact", map[string]any{})
	all := summaries(srv.base)
	byLevel := map[int][]sum{}
	for _, s := range all {
		byLevel[s.Level] = append(byLevel[s.Level], s)
	}
	require.NotEmpty(t, byLevel[0])
	for level, chain := range byLevel {
		next := int64(1)
		for _, s := range chain {
			require.Equal(t, next, s.FromSeq, "level %d: a gapless chain, no range twice: %+v", level, chain)
			require.GreaterOrEqual(t, s.ToSeq, s.FromSeq)
			next = s.ToSeq + 1
		}
	}
	l0 := byLevel[0]
	require.EqualValues(t, total-100, l0[len(l0)-1].ToSeq, "level 0 covers every turn older than the recent window")
}
