package api

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/bots"
	"github.com/longmem/longmem/bots/llm"
)

// TestBotBackendCheckedOnSave: a bot naming a backend the server does not
// allow is refused when saved — created, replaced, patched — with a 400
// on model.backend, and nothing is stored.
func TestBotBackendCheckedOnSave(t *testing.T) {
	backends, err := bots.NewBackends(llm.Config{BaseURL: "http://127.0.0.1:9/v1"}, nil)
	require.NoError(t, err)
	backends.Allow("http://127.0.0.1:10/v1")
	e := newBotsEnv(t, Config{}, func(d *Deps) { d.Backends = backends })

	refused := func(r response) {
		t.Helper()
		require.Equal(t, http.StatusBadRequest, r.status, "%s", r.body)
		require.Equal(t, "model.backend", r.json(t)["error"].(map[string]any)["field"])
	}
	refused(e.do("POST", "/v1/bots", `{"id":"fox","name":"Fox","model":{"backend":"http://169.254.169.254/v1"}}`))
	e.must(http.StatusNotFound, "GET", "/v1/bots/fox", "")

	e.must(http.StatusCreated, "POST", "/v1/bots", `{"id":"fox","name":"Fox","model":{"backend":"http://127.0.0.1:10/v1/"}}`)
	e.must(http.StatusCreated, "POST", "/v1/bots", `{"id":"owl","name":"Owl","model":{"backend":"http://127.0.0.1:9/v1"}}`)
	refused(e.do("PUT", "/v1/bots/fox", `{"id":"fox","name":"Fox","model":{"backend":"http://10.0.0.1/v1"}}`))
	refused(e.do("PATCH", "/v1/bots/fox", `{"model":{"backend":"http://10.0.0.1/v1"}}`, "Content-Type: application/merge-patch+json"))
	got := decodeBot(t, e.must(http.StatusOK, "GET", "/v1/bots/fox", ""))
	require.Equal(t, 1, got.Version, "no refused save made a version")
}
