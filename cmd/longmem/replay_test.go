package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

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
