package openaihttp

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

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
		require.Equal(t, want, Endpoint(base, "chat/completions"), base)
	}
	require.Equal(t, "http://localhost:8080/v1/embeddings", Endpoint("http://localhost:8080", "embeddings"))
	require.Equal(t, "https://api.openai.com/v1/embeddings", Endpoint("https://api.openai.com/v1/", "embeddings"))
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
		{string(long), string(long[:maxMessage]) + "…"},
	} {
		require.Equal(t, tc.want, ErrorMessage([]byte(tc.body)), tc.body)
	}
}

func TestRetryAfter(t *testing.T) {
	require.Equal(t, time.Duration(0), RetryAfter("", time.Minute))
	require.Equal(t, time.Duration(0), RetryAfter("Wed, 21 Oct 2015 07:28:00 GMT", time.Minute))
	require.Equal(t, 2*time.Second, RetryAfter(" 2 ", time.Minute))
	require.Equal(t, time.Minute, RetryAfter("86400", time.Minute))
	require.Equal(t, time.Duration(0), RetryAfter("-5", time.Minute))
}

func TestNoRedirectsKeepsTheClient(t *testing.T) {
	base := &http.Client{Timeout: time.Second}
	c := NoRedirects(base)
	require.Equal(t, time.Second, c.Timeout)
	require.Nil(t, base.CheckRedirect, "the caller's client is not changed")
	require.NotNil(t, NoRedirects(nil).CheckRedirect)
}

func TestReadAll(t *testing.T) {
	raw, err := ReadAll(strings.NewReader("12345"), 5)
	require.NoError(t, err)
	require.Equal(t, "12345", string(raw))
	_, err = ReadAll(strings.NewReader("123456"), 5)
	require.ErrorIs(t, err, ErrTooLarge)
}

func TestBackoff(t *testing.T) {
	for n := range 6 {
		d := Backoff(n, 100*time.Millisecond, time.Second)
		full := min(100*time.Millisecond<<n, time.Second)
		require.GreaterOrEqual(t, d, full/2)
		require.LessOrEqual(t, d, full)
	}
}

func TestRedactedURL(t *testing.T) {
	require.Equal(t, "http://user:xxxxx@h/v1", RedactedURL("http://user:hunter2@h/v1"))
	require.Equal(t, "", Redact(""))
	require.Equal(t, Redacted, Redact("sk"))
}
