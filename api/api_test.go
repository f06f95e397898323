package api

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/longmem/longmem/memory/embedded"
	"github.com/longmem/longmem/retrieval"
	"github.com/longmem/longmem/retrieval/embeddedindex"
)

// tok is shared: loading an encoding takes tens of milliseconds.
var tok retrieval.Tokenizer

func TestMain(m *testing.M) {
	t, err := retrieval.NewTokenizer(retrieval.TokenizerConfig{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tok = t
	// A go-redis pool whose server was killed (the outage tests) keeps one
	// redial goroutine asleep for up to a second after the client closes;
	// it then sees the pool closed and ends.
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/redis/go-redis/v9/internal/pool.(*ConnPool).tryDial"))
}

// env is a server over a real embedded store in a temporary directory.
type env struct {
	t     testing.TB
	srv   *Server
	store *embedded.Store
	key   string // sent as a Bearer token when not empty
}

func newEnv(t testing.TB, cfg Config) *env {
	t.Helper()
	store, err := embedded.Open(embedded.Config{Dir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, store.Close()) })
	srv, err := New(cfg, recallDeps(t, Deps{Store: store, Tokenizer: tok, Registerer: prometheus.NewRegistry()}))
	require.NoError(t, err)
	return &env{t: t, srv: srv, store: store}
}

// recallDeps adds a real in-process index, indexer and assembler to d.
func recallDeps(t testing.TB, d Deps) Deps {
	t.Helper()
	idx, err := embeddedindex.New(embeddedindex.Config{})
	require.NoError(t, err)
	d.Indexer = retrieval.NewIndexer(d.Store, idx, retrieval.NewAnalyzer(retrieval.AnalyzerConfig{}), tok, nil)
	d.Assembler = retrieval.NewAssembler(retrieval.AssemblerConfig{}, d.Store, d.Indexer, tok)
	return d
}

// as returns a copy of e that sends key.
func (e *env) as(key string) *env {
	c := *e
	c.key = key
	return &c
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body into a generic value.
func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var v map[string]any
	require.NoError(t, json.Unmarshal(r.body, &v), "body: %s", r.body)
	return v
}

// errorCode checks the body is an error document and returns its code and
// message.
func (r response) errorCode(t testing.TB) (string, string) {
	t.Helper()
	var v struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Field   string `json:"field"`
		} `json:"error"`
	}
	dec := json.NewDecoder(strings.NewReader(string(r.body)))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&v), "body: %s", r.body)
	require.NotEmpty(t, v.Error.Code, "body: %s", r.body)
	require.NotEmpty(t, v.Error.Message, "body: %s", r.body)
	return v.Error.Code, v.Error.Message
}

// do sends a request; headers are "Name: value" strings.
func (e *env) do(method, path, body string, headers ...string) response {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if e.key != "" {
		req.Header.Set("Authorization", "Bearer "+e.key)
	}
	for _, h := range headers {
		k, v, ok := strings.Cut(h, ": ")
		require.True(e.t, ok, h)
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, req)
	return response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

// must sends a request and requires the status.
func (e *env) must(status int, method, path, body string, headers ...string) response {
	e.t.Helper()
	r := e.do(method, path, body, headers...)
	require.Equal(e.t, status, r.status, "%s %s: %s", method, path, r.body)
	return r
}

// createConversation creates id (empty: generated) and returns its id.
func (e *env) createConversation(id string) string {
	e.t.Helper()
	body := "{}"
	if id != "" {
		body = fmt.Sprintf(`{"id":%q}`, id)
	}
	return e.must(http.StatusCreated, "POST", "/v1/conversations", body).json(e.t)["id"].(string)
}

// appendContents appends one user turn per content in one call.
func (e *env) appendContents(id string, contents ...string) []turnResponse {
	e.t.Helper()
	req := appendTurnsRequest{}
	for _, c := range contents {
		req.Turns = append(req.Turns, turnRequest{Role: "user", Content: c})
	}
	b, err := json.Marshal(req)
	require.NoError(e.t, err)
	r := e.must(http.StatusCreated, "POST", "/v1/conversations/"+id+"/turns", string(b))
	var resp appendTurnsResponse
	require.NoError(e.t, json.Unmarshal(r.body, &resp))
	return resp.Turns
}

// turnList reads every turn of id.
func (e *env) turnList(id string) []turnResponse {
	e.t.Helper()
	r := e.must(http.StatusOK, "GET", "/v1/conversations/"+id+"/turns?limit=1000", "")
	var resp listTurnsResponse
	require.NoError(e.t, json.Unmarshal(r.body, &resp))
	return resp.Turns
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"zero", Config{}, true},
		{"keys", Config{Keys: []Key{{"k1", "a"}, {"k2", "b"}}}, true},
		{"negative turn limit", Config{MaxTurnBytes: -1}, false},
		{"negative body limit", Config{MaxBodyBytes: -1}, false},
		{"empty key", Config{Keys: []Key{{"", "a"}}}, false},
		{"empty tenant", Config{Keys: []Key{{"k", ""}}}, false},
		{"bad tenant", Config{Keys: []Key{{"k", "a b"}}}, false},
		{"duplicate key", Config{Keys: []Key{{"k", "a"}, {"k", "b"}}}, false},
		{"space in key", Config{Keys: []Key{{"k k", "a"}}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.ok {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, k := range tc.cfg.Keys {
				if k.Key != "" {
					require.NotContains(t, err.Error(), k.Key+"\"", "a key leaked into the error")
				}
			}
		})
	}
}

func TestParseKeysAndRedaction(t *testing.T) {
	keys, err := ParseKeys(" secret1:tenantA , secret2:tenantB,")
	require.NoError(t, err)
	require.Equal(t, []Key{{"secret1", "tenantA"}, {"secret2", "tenantB"}}, keys)
	_, err = ParseKeys("nocolon")
	require.Error(t, err)

	cfg := Config{Keys: keys}
	red := cfg.Redacted()
	require.Equal(t, []Key{{Redacted, "tenantA"}, {Redacted, "tenantB"}}, red.Keys)
	require.Equal(t, "secret1", cfg.Keys[0].Key, "Redacted must not change the original")
	require.NotContains(t, fmt.Sprint(keys), "secret")
}

func TestCheckListenAddr(t *testing.T) {
	noKeys := Config{}
	for _, addr := range []string{"127.0.0.1:8080", "[::1]:8080", "localhost:80", "127.0.0.2:1"} {
		require.NoError(t, noKeys.CheckListenAddr(addr), addr)
	}
	for _, addr := range []string{"0.0.0.0:8080", ":8080", "[::]:8080", "10.0.0.1:8080", "example.com:80"} {
		err := noKeys.CheckListenAddr(addr)
		require.Error(t, err, addr)
		require.Contains(t, err.Error(), "no API keys")
	}
	withKeys := Config{Keys: []Key{{"k", "t"}}}
	require.NoError(t, withKeys.CheckListenAddr("0.0.0.0:8080"))
}

func TestNewNeedsStoreAndTokenizer(t *testing.T) {
	_, err := New(Config{}, Deps{Tokenizer: tok})
	require.Error(t, err)
	e := newEnv(t, Config{})
	_, err = New(Config{}, Deps{Store: e.store})
	require.Error(t, err)
	_, err = New(Config{}, Deps{Store: e.store, Tokenizer: tok})
	require.ErrorContains(t, err, "Assembler")
	_, err = New(Config{MaxBodyBytes: -1}, recallDeps(t, Deps{Store: e.store, Tokenizer: tok}))
	require.Error(t, err)
}
