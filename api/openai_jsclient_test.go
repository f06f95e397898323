package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/bots/llm"
	"github.com/longmem/longmem/bots/llm/llmtest"
)

// TestOfficialOpenAIJSClient drives /v1/models and /v1/chat/completions
// (plain, streamed, an error) with the official OpenAI JavaScript library
// (npm "openai", pinned in testdata/openai-js/package-lock.json), unchanged:
// only its baseURL points at longmem. It needs node and the package
// installed (`npm ci --prefix api/testdata/openai-js`, which make deps does
// after .ci/run installs Debian's nodejs and npm); without them it skips,
// except under CI=true, where it fails.
func TestOfficialOpenAIJSClient(t *testing.T) {
	dir := filepath.Join("testdata", "openai-js")
	node, err := exec.LookPath("node")
	if _, serr := os.Stat(filepath.Join(dir, "node_modules", "openai")); err != nil || serr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI: node and the openai package are required (.ci/run installs nodejs and npm; make deps runs npm ci --prefix api/testdata/openai-js): node: %v, package: %v", err, serr)
		}
		t.Skip("node or the openai npm package is missing: npm ci --prefix api/testdata/openai-js")
	}
	e := newChatEnv(t, llmtest.Reply(testUsage, "Lights ", "on."), llm.Config{})
	e.putBot(mira)
	hs := httptest.NewServer(e.srv)
	t.Cleanup(hs.Close)

	cmd := exec.Command(node, "client.mjs", hs.URL+"/v1")
	cmd.Dir = dir
	out, err := cmd.Output()
	var stderr string
	if ee, ok := err.(*exec.ExitError); ok {
		stderr = string(ee.Stderr)
	}
	require.NoError(t, err, "node: %s", stderr)
	var got struct {
		Models []string
		Plain  struct {
			Content string
			Finish  string
			Total   int
		}
		Pieces      []string
		StreamTotal int
		Error       struct {
			Status     int
			Code       string
			IsAPIError bool
		}
	}
	require.NoError(t, json.Unmarshal(out, &got), "%s", out)
	require.Equal(t, []string{"mira"}, got.Models)
	require.Equal(t, "Lights on.", got.Plain.Content)
	require.Equal(t, "stop", got.Plain.Finish)
	require.Equal(t, 54, got.Plain.Total)
	require.Equal(t, []string{"Lights ", "on."}, got.Pieces)
	require.Equal(t, 54, got.StreamTotal)
	require.Equal(t, http.StatusNotFound, got.Error.Status)
	require.Equal(t, "model_not_found", got.Error.Code)
	require.True(t, got.Error.IsAPIError)
	require.Len(t, e.turnList("js-1"), 5, "greeting + two exchanges")
	for _, r := range e.backend.Requests() {
		require.Equal(t, "js-1", r.User)
	}
}
