package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/bots/llm/llmtest"
	"github.com/longmem/longmem/memory/redisstore/redistest"
)

// node is one `longmem serve` process of the cluster test.
type node struct {
	*server
	name string
	logs *syncBuffer
}

// startNode runs `longmem serve` on the Redis Cluster at addrs with the
// config file cfg and the inference backend at backendURL, and waits until
// it is healthy.
func startNode(t *testing.T, bin, name string, addrs []string, cfg, backendURL string) *node {
	t.Helper()
	addr := freeAddr(t)
	logs := &syncBuffer{}
	s := startLongmem(t, bin, []string{"serve", "--config", cfg, "--addr", addr, "--backend", "redis",
		"--redis-addrs", strings.Join(addrs, ","), "--backend-url", backendURL}, []string{"LONGMEM_REDIS_CLUSTER=true"}, addr, logs)
	return &node{server: s, name: name, logs: logs}
}

// startLongmem runs bin with args, the test's environment less its
// LONGMEM_ variables plus env, its output in logs; it waits until addr
// answers /healthz and kills the process when the test ends.
func startLongmem(t *testing.T, bin string, args, env []string, addr string, logs *syncBuffer) *server {
	t.Helper()
	cmd := exec.Command(bin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LONGMEM_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdout, cmd.Stderr = logs, logs
	require.NoError(t, cmd.Start())
	s := &server{cmd: cmd, base: "http://" + addr, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-s.exited
	})
	waitHealthy(t, s.base, s.exited, logs)
	return s
}

// call sends a JSON request and returns the status and body; a transport
// error (a killed node) is status 0.
func call(client *http.Client, method, url, key, body string) (int, string) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return 0, err.Error()
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// appendTurn appends one user turn with an idempotency key and returns its
// seq (0 and the error text when the node did not acknowledge it).
func appendTurn(client *http.Client, base, conv, key, content string) (int64, string) {
	body, _ := json.Marshal(map[string]any{"turns": []map[string]string{{"role": "user", "content": content}}})
	code, out := call(client, "POST", base+"/v1/conversations/"+conv+"/turns", key, string(body))
	if code != http.StatusCreated && code != http.StatusOK {
		return 0, fmt.Sprintf("%d %s", code, out)
	}
	var resp struct {
		Turns []struct {
			Seq int64 `json:"seq"`
		} `json:"turns"`
	}
	if err := json.Unmarshal([]byte(out), &resp); err != nil || len(resp.Turns) != 1 {
		return 0, out
	}
	return resp.Turns[0].Seq, ""
}

type listedTurn struct {
	Seq     int64  `json:"seq"`
	Content string `json:"content"`
}

func listTurns(t *testing.T, client *http.Client, base, conv string) []listedTurn {
	t.Helper()
	var all []listedTurn
	after := int64(0)
	for {
		code, out := call(client, "GET", fmt.Sprintf("%s/v1/conversations/%s/turns?after=%d&limit=1000", base, conv, after), "", "")
		require.Equal(t, http.StatusOK, code, out)
		var page struct {
			Turns []listedTurn `json:"turns"`
			Next  *int64       `json:"next"`
		}
		require.NoError(t, json.Unmarshal([]byte(out), &page))
		all = append(all, page.Turns...)
		if page.Next == nil {
			return all
		}
		after = *page.Next
	}
}

type listedSummary struct {
	Level   int   `json:"level"`
	FromSeq int64 `json:"from_seq"`
	ToSeq   int64 `json:"to_seq"`
}

func listSummaries(t *testing.T, client *http.Client, base, conv string) []listedSummary {
	t.Helper()
	code, out := call(client, "GET", base+"/v1/conversations/"+conv+"/summaries", "", "")
	require.Equal(t, http.StatusOK, code, out)
	var resp struct {
		Summaries []listedSummary `json:"summaries"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &resp))
	return resp.Summaries
}

// level0End is where the level-0 chain of a conversation ends (0: none).
func level0End(sums []listedSummary) int64 {
	end := int64(0)
	for _, s := range sums {
		if s.Level == 0 && s.ToSeq > end {
			end = s.ToSeq
		}
	}
	return end
}

// summariesWritten sums longmem_compaction_summaries_written_total over its
// labels on one node.
func summariesWritten(t *testing.T, client *http.Client, base string) float64 {
	t.Helper()
	code, out := call(client, "GET", base+"/metrics", "", "")
	require.Equal(t, http.StatusOK, code)
	total := 0.0
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "longmem_compaction_summaries_written_total{") {
			var v float64
			_, err := fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v)
			require.NoError(t, err, line)
			total += v
		}
	}
	return total
}

// waitFor polls cond every 100ms until it holds or a generous deadline
// passes (a slow machine, not a timing assertion).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

const clusterConfig = `
compaction:
  keep_recent_turns: 10
  chunk_tokens: 150
  min_chunk_tokens: 40
  summary_tokens: 40
  quiet_after: 300ms
  interval: 500ms
  backoff_min: 200ms
  backoff_max: 1s
  queue:
    consumer: %s
    idle_timeout: 2s
    block: 200ms
`

// TestClusterTwoNodes runs two `longmem serve` processes on one real
// three-master Redis Cluster, with LLM summaries (each node its own fake
// OpenAI-compatible backend) shared through the Redis Streams queue:
//
//   - appends alternate between the nodes, each retried on the other with
//     the same Idempotency-Key: one turn, one seq;
//   - a turn appended on A is in B's next /context;
//   - a bot updated on A is what B renders into its prompt;
//   - each summary is written once (the nodes' written counters add up to
//     the summaries stored);
//   - node A, holding compaction tasks (its backend hangs), is killed with
//     SIGKILL mid-load: no acknowledged turn is lost or doubled, and B's
//     worker reclaims A's pending tasks and compacts those conversations.
func TestClusterTwoNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis Cluster and two longmem processes")
	}
	addrs := redistest.StartCluster(t)
	bin := buildBinary(t)

	var hangA atomic.Bool
	var backendA *llmtest.Server
	backendA = llmtest.New(t, func(w http.ResponseWriter, r *http.Request, req llmtest.Request, _ int) {
		if hangA.Load() {
			backendA.Hang(r)
			return
		}
		llmtest.Reply(llmtest.Usage{}, "The keeper talked about the lighthouse.")(w, r, req, 0)
	})
	backendB := llmtest.New(t, llmtest.Reply(llmtest.Usage{}, "The keeper talked about the lighthouse."))
	a := startNode(t, bin, "a", addrs, writeFile(t, "a.yaml", fmt.Sprintf(clusterConfig, "node-a")), backendA.URL)
	b := startNode(t, bin, "b", addrs, writeFile(t, "b.yaml", fmt.Sprintf(clusterConfig, "node-b")), backendB.URL)
	nodes := []*node{a, b}
	client := &http.Client{Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()

	// The bot: created and updated on A, rendered by B.
	code, out := call(client, "POST", a.base+"/v1/bots", "", `{"id":"keeper","name":"Keeper","personality":"gruff"}`)
	require.Equal(t, http.StatusCreated, code, out)
	code, out = call(client, "PUT", a.base+"/v1/bots/keeper", "", `{"name":"Keeper","personality":"kind and patient with gulls"}`)
	require.Equal(t, http.StatusOK, code, out)
	code, out = call(client, "POST", a.base+"/v1/conversations", "", `{"id":"chat","bot_id":"keeper"}`)
	require.Equal(t, http.StatusCreated, code, out)
	code, out = call(client, "POST", b.base+"/v1/conversations/chat/chat", "", `{"message":{"role":"user","content":"Good morning"}}`)
	require.Equal(t, http.StatusOK, code, out)
	reqs := backendB.Requests()
	require.NotEmpty(t, reqs)
	prompt, _ := json.Marshal(reqs[len(reqs)-1].Messages)
	require.Contains(t, string(prompt), "kind and patient with gulls", "B renders the bot as A updated it")
	require.NotContains(t, string(prompt), "gruff")

	// Appends alternate between the nodes; each is retried on the other.
	const convs, perConv = 4, 60
	for c := range convs {
		code, out := call(client, "POST", nodes[c%2].base+"/v1/conversations", "", fmt.Sprintf(`{"id":"c%d"}`, c))
		require.Equal(t, http.StatusCreated, code, out)
	}
	content := func(c, i int) string {
		return fmt.Sprintf("Log %d-%d: the keeper lit lamp %d and saw %d ships pass the reef.", c, i, i%7, i*3+c)
	}
	for i := range perConv {
		for c := range convs {
			first, other := nodes[(i+c)%2], nodes[(i+c+1)%2]
			key := fmt.Sprintf("k-%d-%d", c, i)
			seq, errText := appendTurn(client, first.base, fmt.Sprintf("c%d", c), key, content(c, i))
			require.Empty(t, errText)
			require.Equal(t, int64(i+1), seq)
			again, errText := appendTurn(client, other.base, fmt.Sprintf("c%d", c), key, content(c, i))
			require.Empty(t, errText)
			require.Equal(t, seq, again, "a retry on the other node returns the original turn")
			if i%15 == 7 {
				// Appended on first, in the other's very next context.
				code, out := call(client, "POST", other.base+fmt.Sprintf("/v1/conversations/c%d/context", c), "",
					`{"message":{"role":"user","content":"Which lamp did the keeper light?"},"budget_tokens":3000}`)
				require.Equal(t, http.StatusOK, code, out)
				require.Contains(t, out, content(c, i))
			}
		}
	}

	// Both nodes compact; each summary is written once.
	for c := range convs {
		conv := fmt.Sprintf("c%d", c)
		waitFor(t, conv+" compacted", func() bool { return level0End(listSummaries(t, client, b.base, conv)) >= perConv-10-40 })
	}
	stored := 0
	waitFor(t, "written counters settle", func() bool {
		stored = 0
		for c := range convs {
			stored += len(listSummaries(t, client, b.base, fmt.Sprintf("c%d", c)))
		}
		return summariesWritten(t, client, a.base)+summariesWritten(t, client, b.base) == float64(stored)
	})
	require.Positive(t, stored)
	t.Logf("before the kill: %d summaries, %v written by A, %v by B", stored,
		summariesWritten(t, client, a.base), summariesWritten(t, client, b.base))

	// A's backend hangs from now on: A's worker will hold its tasks. Load
	// both nodes; kill A once it holds a task.
	hangA.Store(true)
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	defer rdb.Close()
	ctx := context.Background()
	pendingA := func() int64 {
		p, err := rdb.XPending(ctx, "{longmem:compaction}:tasks", "compaction").Result()
		if err != nil {
			return 0
		}
		return p.Consumers["node-a"]
	}
	type acked struct {
		conv, content string
		seq           int64
	}
	var (
		mu    sync.Mutex
		acks  []acked
		wg    sync.WaitGroup
		start = perConv
	)
	const more = 60
	killed := make(chan struct{})
	for c := range convs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conv := fmt.Sprintf("c%d", c)
			for i := start; i < start+more; i++ {
				key := fmt.Sprintf("k-%d-%d", c, i)
				// Through A while it lives (every other append), failing
				// over to B with the same key, as a load balancer would.
				seq, _ := int64(0), ""
				if i%2 == 0 {
					seq, _ = appendTurn(client, a.base, conv, key, content(c, i))
				}
				if seq == 0 {
					var errText string
					seq, errText = appendTurn(client, b.base, conv, key, content(c, i))
					if seq == 0 {
						t.Errorf("append %s on B: %s", key, errText)
						return
					}
				}
				mu.Lock()
				acks = append(acks, acked{conv, content(c, i), seq})
				mu.Unlock()
				if i == start+more/2 {
					<-killed // the second half runs after the kill
				}
			}
		}()
	}
	waitFor(t, "A holds a compaction task", func() bool { return pendingA() > 0 })
	require.NoError(t, a.cmd.Process.Signal(syscall.SIGKILL))
	<-a.exited
	t.Logf("killed A holding %d compaction task(s)", pendingA())
	close(killed)
	wg.Wait()

	// Nothing acknowledged is lost or doubled.
	for c := range convs {
		conv := fmt.Sprintf("c%d", c)
		turns := listTurns(t, client, b.base, conv)
		require.Len(t, turns, perConv+more, conv)
		seen := map[string]int64{}
		for i, tr := range turns {
			require.Equal(t, int64(i+1), tr.Seq, "%s: seqs are gapless", conv)
			_, dup := seen[tr.Content]
			require.False(t, dup, "%s: %q stored twice", conv, tr.Content)
			seen[tr.Content] = tr.Seq
		}
		mu.Lock()
		for _, ak := range acks {
			if ak.conv == conv {
				require.Equal(t, ak.seq, seen[ak.content], "%s: acknowledged %q", conv, ak.content)
			}
		}
		mu.Unlock()
	}

	// B reclaims A's tasks and compacts every conversation.
	waitFor(t, "B reclaims A's pending tasks", func() bool { return pendingA() == 0 })
	for c := range convs {
		conv := fmt.Sprintf("c%d", c)
		waitFor(t, conv+" compacted by B", func() bool {
			return level0End(listSummaries(t, client, b.base, conv)) >= perConv+more-10-40
		})
	}
	var bLogs bytes.Buffer
	bLogs.WriteString(b.logs.String())
	require.NotContains(t, bLogs.String(), "panic")
}
