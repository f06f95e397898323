package api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBadValuesNotEchoedWhole: a 400 quotes at most maxEcho bytes of the
// client's bad value, whatever its length.
func TestBadValuesNotEchoedWhole(t *testing.T) {
	e := newEnv(t, Config{})
	e.createConversation("c")
	long := strings.Repeat("x", 100<<10)
	for _, rq := range []struct{ method, path, body string }{
		{"GET", "/v1/conversations/" + long, ""},
		{"POST", "/v1/conversations", `{"id":"` + long + `"}`},
		{"GET", "/v1/conversations/c/turns/" + long, ""},
		{"GET", "/v1/conversations/c/turns?limit=" + long, ""},
		{"GET", "/v1/conversations?after=" + long, ""},
		{"POST", "/v1/conversations/c/turns", `{"turns":[{"role":"` + long + `","content":"x"}]}`},
		{"POST", "/v1/conversations/c/turns", `{"turns":[{"role":"user","content":"x","created_at":"` + long + `"}]}`},
	} {
		r := e.do(rq.method, rq.path, rq.body)
		require.Equal(t, http.StatusBadRequest, r.status, "%s %.80s: %.200s", rq.method, rq.path, r.body)
		require.Less(t, len(r.body), 1024, "%s %.80s: %.200s", rq.method, rq.path, r.body)
		_, msg := r.errorCode(t)
		require.Contains(t, msg, "(102400 bytes)")
	}
}

// TestDotIDsRefused: "." and ".." are no conversation ids.
func TestDotIDsRefused(t *testing.T) {
	e := newEnv(t, Config{})
	for _, id := range []string{".", ".."} {
		code, msg := e.must(http.StatusBadRequest, "POST", "/v1/conversations", `{"id":"`+id+`"}`).errorCode(t)
		require.Equal(t, "invalid_request", code)
		require.Contains(t, msg, `must not be "." or ".."`)
	}
	e.must(http.StatusCreated, "POST", "/v1/conversations", `{"id":"a.b"}`)
	e.must(http.StatusCreated, "POST", "/v1/conversations", `{"id":"..."}`)
}

func TestQuote(t *testing.T) {
	require.Equal(t, `"abc"`, quote("abc"))
	q := quote(strings.Repeat("é", 100))
	require.True(t, strings.HasSuffix(q, "… (200 bytes)"), q)
	require.Less(t, len(q), maxEcho+30)
}
