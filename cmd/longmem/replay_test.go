package main

import (
	"cmp"
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/api"
	"github.com/longmem/longmem/retrieval/replay"
)

const miniLoCoMo = "../../retrieval/replay/testdata/locomo-mini.json"

func TestReplayWritesReports(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	code, stdout, stderr := runCmd(t, nil, "replay", "--input", miniLoCoMo, "--budget", "80", "--budget", "1000", "--out", out)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "longmem")
	require.Contains(t, stdout, "report.json")
	raw, err := os.ReadFile(filepath.Join(out, "report.json"))
	require.NoError(t, err)
	var rep replay.Report
	require.NoError(t, json.Unmarshal(raw, &rep))
	require.Len(t, rep.Budgets, 2)
	require.Equal(t, 1000, rep.Budgets[1].BudgetTokens)
	for _, st := range []string{"longmem", "recency", "lexical"} {
		require.Contains(t, rep.Budgets[1].Strategies, st)
	}
	require.Equal(t, 1.0, rep.Budgets[1].Strategies["longmem"].EvidenceRecall)
	// What it takes to run it again: the version, the command line, the
	// configuration in effect.
	require.Regexp(t, `^longmem \S+ \(commit`, rep.Version)
	require.Equal(t, []string{"--input", miniLoCoMo, "--budget", "80", "--budget", "1000", "--out", out}, rep.Args)
	require.Contains(t, rep.Settings["default"], "recall:")
	require.Equal(t, []string{"--server", "http://x", "--key", api.Redacted, "-key=" + api.Redacted}, redactArgs([]string{"--server", "http://x", "--key", "s3cret", "-key=s3cret"}))
	_, err = os.Stat(filepath.Join(out, "questions.jsonl"))
	require.NoError(t, err)
	require.NotContains(t, stderr, "questions  conv", "no progress bar when stderr is not a terminal")
}

func TestReplayGatesOnMinRecall(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	code, _, stderr := runCmd(t, nil, "replay", "--input", miniLoCoMo, "--budget", "60", "--min-recall", "0.999", "--out", out)
	require.Equal(t, 3, code, stderr)
	require.Contains(t, stderr, "below --min-recall")
}

func TestReplayUsageErrors(t *testing.T) {
	code, _, stderr := runCmd(t, nil, "replay")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "--input FILE is required")
	code, _, stderr = runCmd(t, nil, "replay", "--input", miniLoCoMo, "--format", "csv", "--out", t.TempDir())
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "unknown --format")
	code, _, _ = runCmd(t, nil, "replay", "--input", miniLoCoMo, "--budget", "-5")
	require.Equal(t, 2, code)
	code, _, stderr = runCmd(t, nil, "replay", "--input", miniLoCoMo, "--embedder", "word2vec:/x")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "want none, static:PATH or openai:URL")
	// One conversation has no others to be buried among.
	code, _, stderr = runCmd(t, nil, "replay", "--input", "../../retrieval/replay/testdata/example.jsonl", "--format", "jsonl",
		"--haystack", "500", "--out", t.TempDir())
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "--haystack needs at least two conversations")
}

func TestRecallConfig(t *testing.T) {
	cfg := printConfig(t, nil)
	require.Equal(t, "embedded", cfg.Recall.Index)
	require.Equal(t, "none", cfg.Recall.Embedder.Kind)

	env := map[string]string{
		"LONGMEM_EMBEDDER":       "openai:http://127.0.0.1:9/v1",
		"LONGMEM_EMBEDDER_KEY":   "sk-secret-embed",
		"LONGMEM_QDRANT_ADDR":    "qdrant:6334",
		"LONGMEM_QDRANT_API_KEY": "qdrant-secret",
	}
	code, out, errOut := runCmd(t, env, "serve", "--print-config", "--index", "qdrant")
	require.Equal(t, 0, code, errOut)
	require.NotContains(t, out, "sk-secret-embed")
	require.NotContains(t, out, "qdrant-secret")
	cfg = printConfig(t, env, "--index", "qdrant", "--embedder", "static:/tmp/vectors.txt")
	require.Equal(t, "qdrant", cfg.Recall.Index)
	require.Equal(t, "qdrant:6334", cfg.Recall.Qdrant.Addr)
	require.Equal(t, "static", cfg.Recall.Embedder.Kind, "the flag beats the environment")
	require.Equal(t, "/tmp/vectors.txt", cfg.Recall.Embedder.Path)

	code, _, errOut = runCmd(t, nil, "serve", "--print-config", "--index", "qdrant")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "recall.qdrant.addr")
	code, _, errOut = runCmd(t, nil, "serve", "--embedder", "magic")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "want none, static:PATH or openai:URL")

	file := writeFile(t, "c.yaml", "recall:\n  assembler:\n    budget:\n      recent_share: 0.3\n    rank:\n      neighbours: 3\n")
	cfg = printConfig(t, nil, "--config", file)
	require.Equal(t, 0.3, cfg.Recall.Assembler.Budget.RecentShare)
	require.Equal(t, 3, cfg.Recall.Assembler.Rank.Neighbours)
}

const exampleJSONL = "../../retrieval/replay/testdata/example.jsonl"

func readReport(t *testing.T, dir string) (replay.Report, []replay.QuestionRecord) {
	t.Helper()
	rep, recs, err := replay.ReadRun(filepath.Join(dir, "report.json"))
	require.NoError(t, err)
	return rep, recs
}

func TestReplayJSONLFormat(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	code, stdout, stderr := runCmd(t, nil, "replay", "--format", "jsonl", "--input", exampleJSONL, "--budget", "500", "--out", out)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "report.html")
	rep, recs := readReport(t, out)
	require.Equal(t, "jsonl", rep.Dataset)
	require.Equal(t, 3, rep.Questions)
	require.Len(t, recs, 3)
	require.Equal(t, 1.0, rep.Budgets[0].Strategies["longmem"].EvidenceRecall)
	require.Equal(t, "mira-and-tom", recs[0].Conversation)
	html, err := os.ReadFile(filepath.Join(out, "report.html"))
	require.NoError(t, err)
	require.Contains(t, string(html), "chart-recall-budget")

	bad := writeFile(t, "bad.jsonl", `{"turn":{"speaker":"A","content":"hi"}}`+"\n"+`{"probe":{"question":"q","evidence":[4]}}`+"\n")
	code, _, stderr = runCmd(t, nil, "replay", "--format", "jsonl", "--input", bad, "--out", t.TempDir())
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "bad.jsonl:2: probe.evidence[0]: turn 4 does not exist")
}

func TestReplayComparesConfigs(t *testing.T) {
	a := writeFile(t, "tight.yaml", "recall:\n  assembler:\n    budget:\n      recent_share: 0.05\n")
	b := writeFile(t, "recent.yaml", "recall:\n  assembler:\n    budget:\n      recent_share: 0.6\n")
	out := filepath.Join(t.TempDir(), "run")
	code, stdout, stderr := runCmd(t, nil, "replay", "--input", miniLoCoMo, "--budget", "80", "--config", a, "--config", b,
		"--summaries", "off", "--out", out)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "longmem@tight")
	rep, recs := readReport(t, out)
	require.Equal(t, []string{"tight", "recent"}, rep.Configs)
	require.Equal(t, []string{"longmem@tight", "longmem@recent", "recency", "lexical"}, rep.Strategies)
	differ := false
	for _, r := range recs {
		if !slices.Equal(r.Strategies["longmem@tight"].Retrieved, r.Strategies["longmem@recent"].Retrieved) {
			differ = true
		}
	}
	require.True(t, differ, "each config assembles with its own policy")
}

// newTestServer serves a longmem (embedded storage, compaction) over
// HTTP, as `longmem serve` would.
func newTestServer(t *testing.T, keys []api.Key) *httptest.Server {
	t.Helper()
	cfg := defaultConfig()
	cfg.Storage.Data = t.TempDir()
	cfg.API.Keys = keys
	cfg.Recall.Assembler.Budget.RecentMaxTurns = 1
	cfg.Compaction.KeepRecentTurns = 2
	cfg.Compaction.MinChunkTokens = 1
	cfg.Compaction.ChunkTokens = 40
	a, err := newApp(context.Background(), cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	ts := httptest.NewServer(a.api)
	t.Cleanup(func() {
		ts.Close()
		require.NoError(t, a.Close())
	})
	return ts
}

func TestReplayThroughServer(t *testing.T) {
	ts := newTestServer(t, []api.Key{{Key: "k-replay", Tenant: "eval"}})
	out := filepath.Join(t.TempDir(), "run")
	code, stdout, stderr := runCmd(t, nil, "replay", "--input", miniLoCoMo, "--budget", "60,1000", "--server", ts.URL,
		"--key", "k-replay", "--out", out)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "longmem")
	rep, recs := readReport(t, out)
	require.Equal(t, ts.URL, rep.Server)
	require.True(t, rep.Summaries)
	require.Equal(t, []string{"longmem", "recency", "lexical"}, rep.Strategies, "no -nosum: the server's policy applies")
	require.Equal(t, 1.0, rep.Budgets[1].Strategies["longmem"].EvidenceRecall)
	withSummaries := 0
	for _, r := range recs {
		withSummaries += r.Strategies["longmem"].Summaries
	}
	require.Positive(t, withSummaries, "the server compacted on request and its contexts hold summaries")

	// The conversations were removed from the server afterwards.
	req, err := http.NewRequest(http.MethodGet, ts.URL+"/v1/conversations", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer k-replay")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var list struct {
		Conversations []json.RawMessage `json:"conversations"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&list))
	require.Empty(t, list.Conversations)

	code, _, stderr = runCmd(t, nil, "replay", "--input", miniLoCoMo, "--server", ts.URL, "--key", "wrong", "--out", t.TempDir())
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "HTTP 401")
}

// fakeLLM is an OpenAI-compatible chat server: as a backend it answers
// with the whole context it was given (so an answer is right exactly when
// the context holds it); as a judge (the prompt starts "You grade
// answers") it says CORRECT when the generated answer contains every word
// of the gold one but articles — as a bare JSON object when asked for
// JSON (response_format json_object), else as a sentence ending in the
// label. Knobs: after failAfter backend calls (0: never) it answers 400;
// the first fail503 backend calls (-1: all) get a 503; refuseJSON answers
// 400 to response_format, as servers without JSON mode do; gate holds the
// first gate requests until that many are in flight at once.
type fakeLLM struct {
	failAfter  int
	fail503    int
	refuseJSON bool
	gate       int

	mu          sync.Mutex
	backend     int
	judge       int
	judgeJSON   int // judge calls that asked for JSON
	unavailable int // 503s sent
	inflight    int
	maxInflight int
	arrived     int
	open        chan struct{} // closed when gate requests are in flight
}

func (f *fakeLLM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.inflight++
	f.maxInflight = max(f.maxInflight, f.inflight)
	f.arrived++
	var wait chan struct{}
	if f.gate > 0 && f.arrived <= f.gate {
		if f.open == nil {
			f.open = make(chan struct{})
		}
		wait = f.open
		if f.inflight == f.gate {
			close(f.open)
		}
	}
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inflight--
		f.mu.Unlock()
	}()
	if wait != nil {
		select {
		case <-wait:
			// Hold a moment longer, so that a request beyond the bound
			// would arrive while these are still in flight.
			time.Sleep(20 * time.Millisecond)
		case <-time.After(30 * time.Second):
			http.Error(w, `{"error":{"message":"the gate never opened: fewer requests in flight than --concurrency"}}`, http.StatusBadRequest)
			return
		}
	}
	var req struct {
		Messages []struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"messages"`
		ResponseFormat *struct {
			Type string `json:"type"`
		} `json:"response_format"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Messages) == 0 {
		http.Error(w, `{"error":{"message":"bad request"}}`, http.StatusBadRequest)
		return
	}
	fail := func(status int, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"error":{"message":"` + msg + `","type":"invalid_request_error"}}`))
	}
	asksJSON := req.ResponseFormat != nil && req.ResponseFormat.Type == "json_object"
	last := req.Messages[len(req.Messages)-1].Content
	var reply string
	f.mu.Lock()
	if strings.HasPrefix(last, "You grade answers") {
		if asksJSON && f.refuseJSON {
			f.mu.Unlock()
			fail(http.StatusBadRequest, "response_format is not supported")
			return
		}
		f.judge++
		gold := between(last, "Gold answer: ", "\nGenerated answer: ")
		gen := between(last, "\nGenerated answer: ", "\n\nReason in")
		label := "CORRECT"
		for _, w := range strings.Fields(strings.ToLower(gold)) {
			if w != "a" && w != "an" && w != "the" && !strings.Contains(strings.ToLower(gen), w) {
				label = "WRONG"
			}
		}
		if asksJSON {
			f.judgeJSON++
			reply = `{"reasoning": "compared word by word", "label": "` + label + `"}`
		} else {
			reply = "Compared word by word, the answer is " + label + "."
		}
	} else {
		f.backend++
		if f.fail503 < 0 || f.unavailable < f.fail503 {
			f.unavailable++
			f.mu.Unlock()
			fail(http.StatusServiceUnavailable, "model loading")
			return
		}
		if f.failAfter > 0 && f.backend > f.failAfter {
			f.mu.Unlock()
			fail(http.StatusBadRequest, "model overloaded")
			return
		}
		var b strings.Builder
		for _, m := range req.Messages[:len(req.Messages)-1] {
			b.WriteString(m.Content + "\n")
		}
		reply = b.String()
	}
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"id": "x", "object": "chat.completion", "model": "fake",
		"choices": []any{map[string]any{"index": 0, "finish_reason": "stop", "message": map[string]any{"role": "assistant", "content": reply}}}})
}

// between returns the text after the last from, up to the next to.
func between(s, from, to string) string {
	i := strings.LastIndex(s, from)
	if i < 0 {
		return ""
	}
	v, _, _ := strings.Cut(s[i+len(from):], to)
	return v
}

func TestReplayEndToEnd(t *testing.T) {
	llmSrv := &fakeLLM{}
	ts := httptest.NewServer(llmSrv)
	defer ts.Close()
	out := filepath.Join(t.TempDir(), "run")
	code, stdout, stderr := runCmd(t, nil, "replay", "--input", miniLoCoMo, "--budget", "60,1000", "--backend-url", ts.URL,
		"--backend-model", "fake", "--concurrency", "3", "--summaries", "off", "--out", out)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, " J")
	rep, recs := readReport(t, out)
	require.Equal(t, "fake", rep.BackendModel)
	require.Equal(t, "fake", rep.JudgeModel, "the judge defaults to the backend")
	require.Contains(t, rep.Strategies, "full-context")
	big, small := rep.Budgets[1].Strategies, rep.Budgets[0].Strategies
	require.NotNil(t, big["longmem"].Accuracy)
	require.Equal(t, 1.0, *big["longmem"].Accuracy, "everything fits in 1,000 tokens: every answer is right")
	require.Equal(t, 4, big["longmem"].Judged, "category 5 is not judged, as in the Mem0 evaluation")
	require.Equal(t, 1.0, *big["full-context"].Accuracy, "the ceiling")
	require.Less(t, *small["recency"].Accuracy, 1.0, "60 tokens of recent turns miss answers")
	for _, r := range recs {
		lm := r.Strategies["longmem"]
		require.NotEmpty(t, lm.Reply)
		if r.Category == "5" {
			require.Empty(t, lm.Verdict)
		} else {
			require.Contains(t, []string{"CORRECT", "WRONG"}, lm.Verdict)
		}
	}
	// 5 answerable questions × (2 budgets × 3 strategies + 1 full context
	// shared by both budgets).
	require.Equal(t, 5*(2*3+1), llmSrv.backend)
	require.Equal(t, 4*(2*3+1), llmSrv.judge)
	require.Equal(t, llmSrv.judge, llmSrv.judgeJSON, "the judge is asked for JSON output, as in the Mem0 evaluation")

	// A full-context that does not fit the window is not applicable.
	out2 := filepath.Join(t.TempDir(), "run")
	code, stdout, stderr = runCmd(t, nil, "replay", "--input", miniLoCoMo, "--budget", "1000", "--backend-url", ts.URL,
		"--backend-window", "50", "--summaries", "off", "--out", out2)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "n/a")
	rep, _ = readReport(t, out2)
	require.Zero(t, rep.Budgets[0].Strategies["full-context"].Questions)
	require.Equal(t, 5, rep.Budgets[0].Strategies["full-context"].NotApplicable)
}

// A judge server without JSON mode refuses response_format: the judge is
// asked again without it and its plain-text label is read.
func TestReplayJudgeWithoutJSONMode(t *testing.T) {
	plain := &fakeLLM{refuseJSON: true}
	ts := httptest.NewServer(plain)
	defer ts.Close()
	out := filepath.Join(t.TempDir(), "run")
	code, _, stderr := runCmd(t, nil, "replay", "--input", miniLoCoMo, "--budget", "60,1000", "--backend-url", ts.URL,
		"--summaries", "off", "--out", out)
	require.Equal(t, 0, code, stderr)
	rep, recs := readReport(t, out)
	require.Equal(t, 4*(2*3+1), plain.judge, "every answer judged, in plain text")
	require.Zero(t, plain.judgeJSON)
	big, small := rep.Budgets[1].Strategies, rep.Budgets[0].Strategies
	require.Equal(t, 1.0, *big["longmem"].Accuracy, "plain CORRECT read as CORRECT")
	require.Less(t, *small["recency"].Accuracy, 1.0, "plain WRONG read as WRONG")
	wrong := 0
	for _, r := range recs {
		if r.Strategies["recency"].Verdict == replay.VerdictWrong {
			wrong++
		}
	}
	require.Positive(t, wrong)
}

func TestReplayResumes(t *testing.T) {
	failing := &fakeLLM{failAfter: 8}
	ts := httptest.NewServer(failing)
	out := filepath.Join(t.TempDir(), "run")
	args := []string{"replay", "--input", miniLoCoMo, "--budget", "1000", "--backend-url", ts.URL, "--concurrency", "1",
		"--summaries", "off", "--out", out}
	code, _, stderr := runCmd(t, nil, args...)
	ts.Close()
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "--resume continues")
	first, err := replay.ReadRecords(filepath.Join(out, "questions.jsonl"))
	require.NoError(t, err)
	require.Len(t, first, 2, "4 backend calls per question: the first two questions finished before the failure")

	healthy := &fakeLLM{}
	ts2 := httptest.NewServer(healthy)
	defer ts2.Close()
	args[6] = ts2.URL
	code, _, stderr = runCmd(t, nil, append(args, "--resume")...)
	require.Equal(t, 0, code, stderr)
	require.Equal(t, 3*4, healthy.backend, "only the three questions left are asked")
	all, err := replay.ReadRecords(filepath.Join(out, "questions.jsonl"))
	require.NoError(t, err)
	require.Len(t, all, 5)
	seen := map[string]bool{}
	for _, r := range all {
		k := r.Conversation + "/" + strconv.Itoa(r.Index)
		require.False(t, seen[k], "each question once")
		seen[k] = true
	}
	rep, _ := readReport(t, out)
	require.Equal(t, 5, rep.Budgets[0].Strategies["longmem"].Questions, "the report counts the resumed questions too")
}

func TestReplayDiffCommand(t *testing.T) {
	a, b := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	code, _, stderr := runCmd(t, nil, "replay", "--input", miniLoCoMo, "--budget", "60", "--summaries", "off", "--out", a)
	require.Equal(t, 0, code, stderr)
	tight := writeFile(t, "c.yaml", "recall:\n  assembler:\n    budget:\n      recent_share: 0.9\n      recent_max_turns: 40\n")
	code, _, stderr = runCmd(t, nil, "replay", "--input", miniLoCoMo, "--budget", "60", "--summaries", "off", "--config", tight, "--out", b)
	require.Equal(t, 0, code, stderr)
	code, stdout, stderr := runCmd(t, nil, "replay", "--diff", filepath.Join(a, "report.json"), filepath.Join(b, "report.json"))
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "aggregate deltas (B − A)")
	require.Contains(t, stdout, "matching question×budget records changed")
	code, _, stderr = runCmd(t, nil, "replay", "--diff", filepath.Join(a, "report.json"))
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "--diff takes two report.json paths")
}

// A backend or judge call that fails with a 503 is retried; one that keeps
// failing ends the run with an error naming the question, and --resume
// finishes it later.
func TestReplayRetriesCalls(t *testing.T) {
	args := func(url, out string) []string {
		return []string{"replay", "--input", miniLoCoMo, "--budget", "1000", "--backend-url", url, "--retries", "1",
			"--concurrency", "1", "--summaries", "off", "--out", out}
	}
	flaky := &fakeLLM{fail503: 1}
	ts := httptest.NewServer(flaky)
	defer ts.Close()
	out := filepath.Join(t.TempDir(), "run")
	code, _, stderr := runCmd(t, nil, args(ts.URL, out)...)
	require.Equal(t, 0, code, stderr)
	require.Equal(t, 1, flaky.unavailable)
	require.Equal(t, 5*4+1, flaky.backend, "4 strategies per question, and the failed call once more")
	_, recs := readReport(t, out)
	require.Len(t, recs, 5)
	for _, r := range recs {
		if r.Category == "5" {
			continue
		}
		for st, res := range r.Strategies {
			require.Contains(t, []string{"CORRECT", "WRONG"}, res.Verdict, "%s on %q", st, r.Question)
		}
	}
	first := recs[0]
	require.Equal(t, "Where is Ava's pottery course?", first.Question)

	down := &fakeLLM{fail503: -1}
	ts2 := httptest.NewServer(down)
	defer ts2.Close()
	out2 := filepath.Join(t.TempDir(), "run")
	code, _, stderr = runCmd(t, nil, args(ts2.URL, out2)...)
	require.Equal(t, 1, code)
	require.Equal(t, 2, down.unavailable, "one retry, then the run stops")
	require.Contains(t, stderr, `on "Where is Ava's pottery course?"`, "the error names the question")
	require.Contains(t, stderr, "503")
	require.Contains(t, stderr, "--resume continues")

	code, _, stderr = runCmd(t, nil, append(args(ts.URL, out2), "--resume")...)
	require.Equal(t, 0, code, stderr)
	rep, recs := readReport(t, out2)
	require.Len(t, recs, 5)
	require.Equal(t, 1.0, *rep.Budgets[0].Strategies["longmem"].Accuracy)
}

// --concurrency N bounds the calls in flight: the fake backend holds the
// first N until N are in flight together (so the run does reach N) and
// records the most it ever saw.
func TestReplayConcurrencyBound(t *testing.T) {
	for _, n := range []int{2, 3} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			f := &fakeLLM{gate: n}
			ts := httptest.NewServer(f)
			defer ts.Close()
			code, _, stderr := runCmd(t, nil, "replay", "--input", miniLoCoMo, "--budget", "60,1000", "--backend-url", ts.URL,
				"--concurrency", strconv.Itoa(n), "--summaries", "off", "--out", filepath.Join(t.TempDir(), "run"))
			require.Equal(t, 0, code, stderr)
			require.Equal(t, n, f.maxInflight, "never more than --concurrency calls at once, and that many")
			require.Equal(t, 5*(2*3+1), f.backend)
		})
	}
}

// oneHotVectors writes a GloVe text file giving every word of the mini
// LoCoMo file its own axis, most frequent word first (as GloVe orders
// them, which the static embedder's SIF weights read as frequency): a
// turn's embedding is then its weighted bag of words, and dense search
// finds the turns that share the question's rarer words.
func oneHotVectors(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile(miniLoCoMo)
	require.NoError(t, err)
	count := map[string]int{}
	for _, w := range regexp.MustCompile(`[a-z]+`).FindAllString(strings.ToLower(string(raw)), -1) {
		count[w]++
	}
	words := slices.Collect(maps.Keys(count))
	slices.SortFunc(words, func(a, b string) int { return cmp.Or(count[b]-count[a], strings.Compare(a, b)) })
	var b strings.Builder
	for i, w := range words {
		b.WriteString(w)
		for k := range words {
			if k == i {
				b.WriteString(" 1")
			} else {
				b.WriteString(" 0")
			}
		}
		b.WriteString("\n")
	}
	return writeFile(t, "vectors.txt", b.String())
}

func TestReplayDenseBaseline(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	code, _, stderr := runCmd(t, nil, "replay", "--input", miniLoCoMo, "--budget", "60,1000", "--embedder", "static:"+oneHotVectors(t),
		"--summaries", "off", "--progress", "--out", out)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stderr, "6/6 questions", "--progress draws the bar on stderr")
	require.Contains(t, stderr, "ETA")
	rep, recs := readReport(t, out)
	require.Equal(t, "static", rep.Embedder)
	require.Equal(t, []string{"longmem", "recency", "lexical", "dense"}, rep.Strategies)
	small, big := rep.Budgets[0].Strategies["dense"], rep.Budgets[1].Strategies["dense"]
	require.Equal(t, 5, big.Questions)
	require.Equal(t, 1.0, big.EvidenceRecall, "every turn has a vector: at 1,000 tokens dense holds them all")
	require.Positive(t, small.EvidenceRecall)
	// Where the question shares a rare word with its evidence turn
	// ("pottery", "market"), dense finds it at 60 tokens; recency, whose
	// 60 tokens hold the last turns only, does not.
	found := 0
	for _, r := range recs {
		if r.BudgetTokens == 60 && (r.Question == "Where is Ava's pottery course?" || r.Question == "What did Ben find at the market?") {
			require.Equal(t, 1.0, r.Strategies["dense"].Recall, r.Question)
			require.Zero(t, r.Strategies["recency"].Recall, r.Question)
			found++
		}
	}
	require.Equal(t, 2, found)
	differ := false
	for _, r := range recs {
		differ = differ || !slices.Equal(r.Strategies["dense"].Retrieved, r.Strategies["lexical"].Retrieved)
	}
	require.True(t, differ, "dense ranks by the vectors, not by BM25")
	for _, r := range recs {
		d := r.Strategies["dense"]
		require.NotEmpty(t, d.Retrieved, "%q at %d", r.Question, r.BudgetTokens)
		require.LessOrEqual(t, d.UsedTokens, r.BudgetTokens)
	}
}

// Each --config compacts with its own compaction section: one that keeps
// only 2 recent turns writes summaries of the mini conversations, one
// that keeps the default 100 writes none — in the same run.
func TestReplayConfigsCompactEachTheirOwnWay(t *testing.T) {
	recall := "recall:\n  assembler:\n    budget:\n      recent_max_turns: 1\n"
	folds := writeFile(t, "folds.yaml", recall+"compaction:\n  keep_recent_turns: 2\n  min_chunk_tokens: 1\n  chunk_tokens: 40\n  summarizer: llm\n")
	keeps := writeFile(t, "keeps.yaml", recall+"tokenizer:\n  encoding: o200k_base\n")
	out := filepath.Join(t.TempDir(), "run")
	code, _, stderr := runCmd(t, nil, "replay", "--input", miniLoCoMo, "--budget", "200", "--config", keeps, "--config", folds, "--out", out)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stderr, "folds.yaml: compaction.summarizer llm is not used")
	require.Contains(t, stderr, "folds.yaml: its tokenizer, recall.index or recall.embedder differ from "+keeps+"'s and are not used")
	rep, recs := readReport(t, out)
	require.Equal(t, []string{"longmem@keeps", "longmem@keeps-nosum", "longmem@folds", "longmem@folds-nosum", "recency", "lexical"}, rep.Strategies)
	sums := map[string]int{}
	for _, r := range recs {
		for st, res := range r.Strategies {
			sums[st] += res.Summaries
		}
	}
	require.Zero(t, sums["longmem@keeps"], "100 recent turns kept: nothing folded")
	require.Positive(t, sums["longmem@folds"], "2 recent turns kept: the rest folded into summaries")
	require.Zero(t, sums["longmem@folds-nosum"])
	require.Equal(t, 1.0, rep.Budgets[0].Strategies["longmem@folds-nosum"].EvidenceRecall, "the copy holds the same turns, same seqs")

	// The first config's compaction applies too (it used to be ignored).
	out = filepath.Join(t.TempDir(), "run")
	code, _, stderr = runCmd(t, nil, "replay", "--input", miniLoCoMo, "--budget", "200", "--config", folds, "--out", out)
	require.Equal(t, 0, code, stderr)
	_, recs = readReport(t, out)
	n := 0
	for _, r := range recs {
		n += r.Strategies["longmem"].Summaries
	}
	require.Positive(t, n)

	bad := writeFile(t, "bad.yaml", "compaction:\n  keep_recent_turns: -1\n")
	code, _, stderr = runCmd(t, nil, "replay", "--input", miniLoCoMo, "--config", bad, "--out", t.TempDir())
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "keep_recent_turns must not be negative")
}
