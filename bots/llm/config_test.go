package llm

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{name: "minimal", cfg: Config{BaseURL: "http://localhost:8000"}, ok: true},
		{name: "full", cfg: Config{BaseURL: "https://api.hunyuan.cloud.tencent.com/v1", Model: "hunyuan-turbos-latest", APIKey: "k",
			Timeout: time.Minute, FirstTokenTimeout: time.Second, MaxRetries: -1, Temperature: ptr(2), TopP: ptr(0), MaxTokens: 1, Stop: []string{"\n"}}, ok: true},
		{name: "no base URL", cfg: Config{}},
		{name: "not http", cfg: Config{BaseURL: "ftp://host"}},
		{name: "no host", cfg: Config{BaseURL: "http://"}},
		{name: "relative", cfg: Config{BaseURL: "localhost:8000"}},
		{name: "query", cfg: Config{BaseURL: "http://host/v1?x=1"}},
		{name: "unparsable", cfg: Config{BaseURL: "http://host:port:x/%zz"}},
		{name: "negative timeout", cfg: Config{BaseURL: "http://h", Timeout: -1}},
		{name: "negative first-token timeout", cfg: Config{BaseURL: "http://h", FirstTokenTimeout: -1}},
		{name: "temperature too high", cfg: Config{BaseURL: "http://h", Temperature: ptr(2.5)}},
		{name: "temperature NaN", cfg: Config{BaseURL: "http://h", Temperature: ptr(math.NaN())}},
		{name: "top_p too high", cfg: Config{BaseURL: "http://h", TopP: ptr(1.5)}},
		{name: "negative max tokens", cfg: Config{BaseURL: "http://h", MaxTokens: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.ok {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
			}
		})
	}
}

func TestEndpoint(t *testing.T) {
	for base, want := range map[string]string{
		"http://localhost:8000":                      "http://localhost:8000/v1/chat/completions",
		"http://localhost:8000/":                     "http://localhost:8000/v1/chat/completions",
		"http://localhost:11434/v1":                  "http://localhost:11434/v1/chat/completions",
		"http://localhost:11434/v1/":                 "http://localhost:11434/v1/chat/completions",
		"https://api.hunyuan.cloud.tencent.com/v1":   "https://api.hunyuan.cloud.tencent.com/v1/chat/completions",
		"https://gateway.example/openai":             "https://gateway.example/openai/v1/chat/completions",
		"https://ark.example/api/v3":                 "https://ark.example/api/v3/chat/completions",
		"https://gateway.example/openai/version/v1x": "https://gateway.example/openai/version/v1x/v1/chat/completions",
	} {
		require.Equal(t, want, endpoint(base), base)
	}
}

func TestErrorMessage(t *testing.T) {
	long := make([]byte, 2000)
	for i := range long {
		long[i] = 'x'
	}
	for _, tc := range []struct{ body, want string }{
		{`{"error":{"message":"model not found","type":"NotFoundError"}}`, "model not found"},
		{`{"error":"Input validation error: inputs tokens + max_new_tokens must be <= 4096","error_type":"validation"}`,
			"Input validation error: inputs tokens + max_new_tokens must be <= 4096"},
		{`{"object":"error","message":"The model does not exist.","code":404}`, "The model does not exist."},
		{`{"detail":"Not Found"}`, "Not Found"},
		{`{"detail":[{"loc":["body","messages"],"msg":"field required"}]}`, `[{"loc":["body","messages"],"msg":"field required"}]`},
		{"<html><body>502 Bad Gateway</body></html>\n", "<html><body>502 Bad Gateway</body></html>"},
		{"", ""},
		{string(long), string(long[:maxErrorMessage]) + "…"},
	} {
		require.Equal(t, tc.want, errorMessage([]byte(tc.body)), tc.body)
	}
}

func TestRetryAfter(t *testing.T) {
	require.Equal(t, time.Duration(0), retryAfter(""))
	require.Equal(t, time.Duration(0), retryAfter("Wed, 21 Oct 2015 07:28:00 GMT"))
	require.Equal(t, 2*time.Second, retryAfter(" 2 "))
	require.Equal(t, maxRetryAfter, retryAfter("86400"))
	require.Equal(t, time.Duration(0), retryAfter("-5"))
}
