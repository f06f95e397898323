package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"gopkg.in/yaml.v3"

	"github.com/longmem/longmem/api"
	"github.com/longmem/longmem/bots"
	"github.com/longmem/longmem/bots/llm"
	"github.com/longmem/longmem/compaction"
	"github.com/longmem/longmem/memory/redisstore/redistest"
	"github.com/longmem/longmem/retrieval"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func runCmd(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb, env)
	return code, out.String(), errb.String()
}

func TestUsageAndUnknownCommand(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}} {
		code, out, _ := runCmd(t, nil, args...)
		require.Equal(t, 0, code, args)
		require.Contains(t, out, "serve")
		require.Contains(t, out, "Usage")
	}
	// Bare longmem is a usage error: usage on stderr, exit 2.
	code, out, errOut := runCmd(t, nil)
	require.Equal(t, 2, code)
	require.Empty(t, out)
	require.Contains(t, errOut, "Usage")

	// A command's --help is on stdout, exit 0, wherever it is among the
	// flags — as longmem --help is.
	for _, args := range [][]string{{"serve", "--help"}, {"replay", "-h"}, {"card", "--to", "v3", "--help"}, {"version", "--help"}} {
		code, out, errOut := runCmd(t, nil, args...)
		require.Equal(t, 0, code, args)
		require.Contains(t, out, "Usage: longmem "+args[0], args)
		require.Empty(t, errOut, args)
	}

	// version: one line with the Go version.
	for _, args := range [][]string{{"version"}, {"--version"}} {
		code, out, _ := runCmd(t, nil, args...)
		require.Equal(t, 0, code)
		require.Regexp(t, `^longmem \S+ \(commit [^)]+\) go\d`, out)
	}
	code, _, _ = runCmd(t, nil, "version", "extra")
	require.Equal(t, 2, code)
	code, out, _ = runCmd(t, nil, "help", "serve")
	require.Equal(t, 0, code)
	require.Contains(t, out, "-addr")
	require.Contains(t, out, "LONGMEM_API_KEYS")

	code, _, errOut = runCmd(t, nil, "frobnicate")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, `unknown command "frobnicate"`)
	code, _, _ = runCmd(t, nil, "help", "frobnicate")
	require.Equal(t, 2, code)
	code, _, _ = runCmd(t, nil, "serve", "--no-such-flag")
	require.Equal(t, 2, code)
	code, _, _ = runCmd(t, nil, "serve", "extra-arg")
	require.Equal(t, 2, code)
}

// printConfig runs serve --print-config and decodes the YAML it prints.
func printConfig(t *testing.T, env map[string]string, args ...string) Config {
	t.Helper()
	code, out, errOut := runCmd(t, env, append([]string{"serve", "--print-config"}, args...)...)
	require.Equal(t, 0, code, errOut)
	var cfg Config
	dec := yaml.NewDecoder(strings.NewReader(out))
	dec.KnownFields(true)
	require.NoError(t, dec.Decode(&cfg), out)
	return cfg
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

func TestConfigDefaults(t *testing.T) {
	cfg := printConfig(t, nil)
	require.Equal(t, "127.0.0.1:8080", cfg.Addr)
	require.Equal(t, "embedded", cfg.Storage.Backend)
	require.Equal(t, "./longmem-data", cfg.Storage.Data)
	require.Equal(t, "cl100k_base", cfg.Tokenizer.Encoding)
	require.Equal(t, api.DefaultMaxTurnBytes, cfg.API.MaxTurnBytes)
	require.EqualValues(t, api.DefaultMaxBodyBytes, cfg.API.MaxBodyBytes)
	require.Empty(t, cfg.API.Keys)
}

func TestConfigPrecedence(t *testing.T) {
	file := writeFile(t, "longmem.yaml", `
addr: 127.0.0.1:7001
log_level: warn
storage:
  backend: embedded
  data: /from/file
tokenizer:
  encoding: o200k_base
api:
  max_turn_bytes: 1000
  max_body_bytes: 5000
  keys:
    - key: file-secret
      tenant: fromfile
`)
	// File only.
	cfg := printConfig(t, nil, "--config", file)
	require.Equal(t, "127.0.0.1:7001", cfg.Addr)
	require.Equal(t, "warn", cfg.LogLevel)
	require.Equal(t, "/from/file", cfg.Storage.Data)
	require.Equal(t, "o200k_base", cfg.Tokenizer.Encoding)
	require.Equal(t, 1000, cfg.API.MaxTurnBytes)
	require.Equal(t, []api.Key{{Key: api.Redacted, Tenant: "fromfile"}}, cfg.API.Keys)

	// Env over file; LONGMEM_CONFIG names the file.
	env := map[string]string{
		"LONGMEM_CONFIG":             file,
		"LONGMEM_ADDR":               "127.0.0.1:7002",
		"LONGMEM_DATA":               "/from/env",
		"LONGMEM_API_KEYS":           "env-secret:fromenv",
		"LONGMEM_API_MAX_TURN_BYTES": "2000",
	}
	cfg = printConfig(t, env)
	require.Equal(t, "127.0.0.1:7002", cfg.Addr)
	require.Equal(t, "/from/env", cfg.Storage.Data)
	require.Equal(t, 2000, cfg.API.MaxTurnBytes)
	require.EqualValues(t, 5000, cfg.API.MaxBodyBytes, "file value kept when env does not set it")
	require.Equal(t, "warn", cfg.LogLevel)
	require.Equal(t, []api.Key{{Key: api.Redacted, Tenant: "fromenv"}}, cfg.API.Keys)

	// Flags over env.
	cfg = printConfig(t, env, "--addr", "127.0.0.1:7003", "--data", "/from/flag", "--max-turn-bytes", "3000", "--log-level", "debug")
	require.Equal(t, "127.0.0.1:7003", cfg.Addr)
	require.Equal(t, "/from/flag", cfg.Storage.Data)
	require.Equal(t, 3000, cfg.API.MaxTurnBytes)
	require.Equal(t, "debug", cfg.LogLevel)
	require.Equal(t, "o200k_base", cfg.Tokenizer.Encoding)
}

func TestPrintConfigRedactsSecrets(t *testing.T) {
	env := map[string]string{
		"LONGMEM_API_KEYS":        "topsecret1:a,topsecret2:b",
		"LONGMEM_STORAGE_BACKEND": "redis",
		"LONGMEM_REDIS_ADDRS":     "redis-1:6379, redis-2:6379",
		"LONGMEM_REDIS_PASSWORD":  "hunter2",
		"LONGMEM_REDIS_CLUSTER":   "true",
	}
	code, out, errOut := runCmd(t, env, "serve", "--print-config")
	require.Equal(t, 0, code, errOut)
	require.NotContains(t, out, "topsecret")
	require.NotContains(t, out, "hunter2")
	require.Contains(t, out, api.Redacted)
	cfg := printConfig(t, env)
	require.Equal(t, "redis", cfg.Storage.Backend)
	require.Equal(t, []string{"redis-1:6379", "redis-2:6379"}, cfg.Storage.Redis.Addrs)
	require.True(t, cfg.Storage.Redis.Cluster)
	require.Equal(t, api.Redacted, cfg.Storage.Redis.Password)
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		file string
		env  map[string]string
		args []string
		want string
	}{
		{name: "unknown key", file: "addr: 127.0.0.1:1\nstorage:\n  backnd: redis\n", want: "backnd"},
		{name: "unknown top key", file: "adr: x\n", want: "adr"},
		{name: "bad yaml", file: "addr: [\n", want: "config file"},
		{name: "bad int env", env: map[string]string{"LONGMEM_API_MAX_BODY_BYTES": "lots"}, want: "LONGMEM_API_MAX_BODY_BYTES"},
		{name: "bad bool env", env: map[string]string{"LONGMEM_REDIS_CLUSTER": "maybe"}, want: "LONGMEM_REDIS_CLUSTER"},
		{name: "bad keys env", env: map[string]string{"LONGMEM_API_KEYS": "justakey"}, want: "tenant"},
		{name: "missing file", args: []string{"--config", "/nonexistent/longmem.yaml"}, want: "config file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"serve", "--print-config"}, tc.args...)
			if tc.file != "" {
				args = append(args, "--config", writeFile(t, "c.yaml", tc.file))
			}
			code, _, errOut := runCmd(t, tc.env, args...)
			require.Equal(t, 1, code)
			require.Contains(t, errOut, tc.want)
		})
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		modify func(*Config)
		want   string
	}{
		{"bad addr", func(c *Config) { c.Addr = "nonsense" }, "addr"},
		{"bad level", func(c *Config) { c.LogLevel = "loud" }, "log level"},
		{"bad backend", func(c *Config) { c.Storage.Backend = "floppy" }, "floppy"},
		{"empty data", func(c *Config) { c.Storage.Data = "" }, "data"},
		{"redis without addrs", func(c *Config) { c.Storage.Backend = "redis" }, "redis"},
		{"bad redis addr", func(c *Config) { c.Storage.Backend = "redis"; c.Storage.Redis.Addrs = []string{"nohostport"} }, "nohostport"},
		{"redis db in cluster", func(c *Config) {
			c.Storage.Backend = "redis"
			c.Storage.Redis.Addrs = []string{"a:1", "b:2"}
			c.Storage.Redis.DB = 3
		}, "db"},
		{"bad encoding", func(c *Config) { c.Tokenizer.Encoding = "p50k" }, "p50k"},
		{"bad api", func(c *Config) { c.API.MaxBodyBytes = -5 }, "max_body_bytes"},
		{"public without keys", func(c *Config) { c.Addr = "0.0.0.0:8080" }, "no API keys"},
		{"bad backend url", func(c *Config) { c.Backend.BaseURL = "ftp://x" }, "backend"},
		{"model without backend", func(c *Config) { c.Backend.Model = "m" }, "no base URL"},
		{"llm summarizer without backend", func(c *Config) { c.Compaction.Summarizer = "llm" }, "summarizer llm"},
		{"unknown summarizer", func(c *Config) { c.Compaction.Summarizer = "magic" }, "magic"},
		{"bad compaction", func(c *Config) { c.Compaction.LevelFanIn = 1 }, "level_fan_in"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := defaultConfig()
			require.NoError(t, cfg.Validate())
			tc.modify(&cfg)
			err := cfg.Validate()
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
		})
	}
	cfg := defaultConfig()
	cfg.Addr = "0.0.0.0:8080"
	cfg.API.Keys = []api.Key{{Key: "k", Tenant: "t"}}
	require.NoError(t, cfg.Validate())
}

func TestServeRefusesPublicAddressWithoutKeys(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	code, _, errOut := runCmd(t, nil, "serve", "--addr", "0.0.0.0:0", "--data", data)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "no API keys")
	require.NoDirExists(t, data, "nothing is opened before the configuration is accepted")
}

func TestUnknownEnvIsReported(t *testing.T) {
	require.Equal(t, []string{"LONGMEM_ADRR"}, unknownEnv(map[string]string{"LONGMEM_ADRR": "x", "LONGMEM_ADDR": "y", "HOME": "/"}))
	require.Equal(t, ", did you mean LONGMEM_API_KEYS?", didYouMean("LONGMEM_API_KEY"))
	require.Equal(t, ", did you mean LONGMEM_BACKEND_URL?", didYouMean("LONGMEM_BAKEND_URL"))
	require.Empty(t, didYouMean("LONGMEM_SOMETHING_ELSE"))

	// The warning comes before the configuration is validated, since a
	// misspelt variable is often why it is invalid; --print-config warns too.
	data := filepath.Join(t.TempDir(), "data")
	code, _, errOut := runCmd(t, map[string]string{"LONGMEM_API_KEY": "k:t"}, "serve", "--addr", "0.0.0.0:0", "--data", data)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "unknown environment variable LONGMEM_API_KEY, did you mean LONGMEM_API_KEYS?")
	require.Contains(t, errOut, "no API keys")
	code, _, errOut = runCmd(t, map[string]string{"LONGMEM_BAKEND_URL": "http://x"}, "serve", "--print-config")
	require.Equal(t, 0, code)
	require.Contains(t, errOut, "LONGMEM_BAKEND_URL, did you mean LONGMEM_BACKEND_URL?")
}

func TestStorageBackendGivenAURL(t *testing.T) {
	code, _, errOut := runCmd(t, nil, "serve", "--print-config", "--backend", "http://localhost:8000/v1")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "--backend-url", "the likely mix-up is named")
}

func TestPrintConfigShowsBackendKeyIsSet(t *testing.T) {
	code, out, errOut := runCmd(t, map[string]string{"LONGMEM_BACKEND_URL": "http://llm:8000/v1", "LONGMEM_BACKEND_KEY": "sk-verysecret"}, "serve", "--print-config")
	require.Equal(t, 0, code, errOut)
	require.NotContains(t, out, "sk-verysecret")
	require.Contains(t, out, "LONGMEM_BACKEND_KEY): "+api.Redacted)
	code, out, errOut = runCmd(t, nil, "serve", "--print-config")
	require.Equal(t, 0, code, errOut)
	require.NotContains(t, out, "LONGMEM_BACKEND_KEY", "no key, no line")
}

// TestServeInProcess wires the app as serve does, serves a few requests and
// shuts down when the context ends, closing the store.
func TestServeInProcess(t *testing.T) {
	cfg := defaultConfig()
	cfg.Storage.Data = t.TempDir()
	serveInProcess(t, cfg)
}

// TestServeInProcessRedis does the same on a real redis-server started for
// the test (skipped when redis-server is absent, unless CI=true).
func TestServeInProcessRedis(t *testing.T) {
	cfg := defaultConfig()
	cfg.Storage.Backend = "redis"
	cfg.Storage.Redis.Addrs = []string{redistest.StartServer(t)}
	serveInProcess(t, cfg)
}

// startApp wires an app from cfg as serve does and serves it on a free
// loopback port. stop ends serving (requiring a clean shutdown) and closes
// the app.
func startApp(t testing.TB, cfg Config, logw io.Writer) (base string, stop func()) {
	t.Helper()
	logger, err := newLogger(cfg, logw)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	a, err := newApp(ctx, cfg, logger)
	if err != nil {
		cancel()
		require.NoError(t, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- a.serveHTTP(ctx, ln) }()
	return "http://" + ln.Addr().String(), func() {
		cancel()
		require.NoError(t, <-done)
		require.NoError(t, a.Close())
	}
}

func serveInProcess(t *testing.T, cfg Config) {
	cfg.API.Keys = []api.Key{{Key: "k1", Tenant: "acme"}}
	var logs bytes.Buffer
	base, stop := startApp(t, cfg, &logs)
	client := &http.Client{}
	req, err := http.NewRequest("POST", base+"/v1/conversations", strings.NewReader(`{"id":"x"}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer k1")
	resp, err := client.Do(req)
	require.NoError(t, err)
	var conv map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&conv))
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	require.Equal(t, "acme", conv["tenant"])

	// Appends are indexed and recalled through the context route.
	for _, path := range []string{"/v1/conversations/x/turns", "/v1/conversations/x/context"} {
		body := `{"turns":[{"role":"user","content":"My cat Miso loves tuna."}]}`
		if strings.HasSuffix(path, "context") {
			body = `{"message":{"role":"user","content":"What does Miso love?"},"budget_tokens":2000}`
		}
		req, err := http.NewRequest("POST", base+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer k1")
		resp, err := client.Do(req)
		require.NoError(t, err)
		var out bytes.Buffer
		_, _ = out.ReadFrom(resp.Body)
		resp.Body.Close()
		require.Less(t, resp.StatusCode, 300, "%s: %s", path, out.String())
		require.Contains(t, out.String(), "tuna")
	}

	resp, err = client.Get(base + "/metrics")
	require.NoError(t, err)
	var metrics bytes.Buffer
	_, _ = metrics.ReadFrom(resp.Body)
	resp.Body.Close()
	require.Contains(t, metrics.String(), "go_goroutines")
	require.Contains(t, metrics.String(), "longmem_http_requests_total")
	require.Contains(t, metrics.String(), "longmem_compaction_lag_turns_max")
	client.CloseIdleConnections()

	stop()
	require.Contains(t, logs.String(), "longmem serving")
	require.NotContains(t, logs.String(), "k1")
}

// --print-config prints the values in effect, defaults filled in, not the
// zeros that stand for them; what is set wins.
func TestPrintConfigShowsValuesInEffect(t *testing.T) {
	cfg := printConfig(t, nil)
	require.Equal(t, llm.DefaultTimeout, cfg.Backend.Timeout)
	require.Equal(t, llm.DefaultMaxRetries, cfg.Backend.MaxRetries)
	require.Equal(t, 0.15, cfg.Recall.Assembler.Budget.RecentShare)
	require.Equal(t, 0.5, cfg.Recall.Assembler.Budget.PersonaShare)
	require.Equal(t, retrieval.LayoutCache, cfg.Recall.Assembler.Layout)
	require.Equal(t, 1.0, cfg.Recall.Assembler.Rank.LexicalWeight)
	require.Equal(t, compaction.DefaultKeepRecentTurns, cfg.Compaction.KeepRecentTurns)
	require.Equal(t, bots.DefaultContextWindow, cfg.Chat.DefaultContextWindow)

	cfg = printConfig(t, nil, "--backend-timeout", "5s")
	require.Equal(t, 5*time.Second, cfg.Backend.Timeout)
	// The printout is a config file that gives the same configuration.
	code, out, errOut := runCmd(t, nil, "serve", "--print-config")
	require.Equal(t, 0, code, errOut)
	again := printConfig(t, nil, "--config", writeFile(t, "effective.yaml", out))
	require.Equal(t, printConfig(t, nil), again)
}
