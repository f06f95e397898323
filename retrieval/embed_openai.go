package retrieval

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/longmem/longmem/internal/openaihttp"
)

// OpenAIConfig configures an OpenAIEmbedder. The zero value of every field
// but BaseURL works.
type OpenAIConfig struct {
	// BaseURL of the server, with or without the trailing "/v1"
	// ("http://localhost:8080" and "https://api.openai.com/v1" both work).
	BaseURL string `yaml:"base_url" json:"base_url"`
	// Model is sent as "model"; servers that serve one model may ignore it.
	Model string `yaml:"model" json:"model,omitempty"`
	// APIKey is sent as a Bearer token when set. It is a secret: it comes
	// from the environment, is never serialised, and is redacted by String.
	APIKey string `yaml:"-" json:"-"`
	// BatchSize is the maximum number of texts per request (0: 64).
	BatchSize int `yaml:"batch_size" json:"batch_size,omitempty"`
	// Timeout bounds one HTTP attempt, body included (0: 30s).
	Timeout time.Duration `yaml:"timeout" json:"timeout,omitempty"`
	// MaxRetries is how many times a failed request is retried after 429,
	// 5xx, a network error or an attempt timeout (0: 3; negative: never).
	MaxRetries int `yaml:"max_retries" json:"max_retries,omitempty"`
	// Dimension, when > 0, is the required vector length; a response with
	// another length is an error.
	Dimension int `yaml:"dimension" json:"dimension,omitempty"`
}

const (
	openAIDefaultBatch   = 64
	openAIDefaultTimeout = 30 * time.Second
	openAIDefaultRetries = 3
	openAIBackoffBase    = 500 * time.Millisecond
	openAIBackoffMax     = 20 * time.Second
	openAIMaxRetryAfter  = openAIBackoffMax
	openAIMaxBody        = 256 << 20
)

// Validate reports a configuration that cannot work.
func (c OpenAIConfig) Validate() error {
	if c.BaseURL == "" {
		return errors.New("embedder: base_url is required")
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil {
		return fmt.Errorf("embedder: base_url: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("embedder: base_url %q must be an http or https URL", u.Redacted())
	}
	if c.BatchSize < 0 {
		return fmt.Errorf("embedder: batch_size %d is negative", c.BatchSize)
	}
	if c.Timeout < 0 {
		return fmt.Errorf("embedder: timeout %s is negative", c.Timeout)
	}
	if c.Dimension < 0 {
		return fmt.Errorf("embedder: dimension %d is negative", c.Dimension)
	}
	return nil
}

// String describes the config with the API key redacted.
func (c OpenAIConfig) String() string {
	return fmt.Sprintf("OpenAIConfig{BaseURL:%q Model:%q APIKey:%q BatchSize:%d Timeout:%s MaxRetries:%d Dimension:%d}",
		openaihttp.RedactedURL(c.BaseURL), c.Model, openaihttp.Redact(c.APIKey), c.BatchSize, c.Timeout, c.MaxRetries, c.Dimension)
}

// GoString is String, so %#v does not print the key either.
func (c OpenAIConfig) GoString() string { return c.String() }

// LogValue makes slog print the config with the API key redacted.
func (c OpenAIConfig) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("base_url", openaihttp.RedactedURL(c.BaseURL)),
		slog.String("model", c.Model),
		slog.String("api_key", openaihttp.Redact(c.APIKey)),
		slog.Int("batch_size", c.BatchSize),
		slog.Duration("timeout", c.Timeout),
		slog.Int("max_retries", c.MaxRetries),
		slog.Int("dimension", c.Dimension),
	)
}

// EmbeddingAPIError is a non-2xx answer of an embeddings endpoint.
type EmbeddingAPIError struct {
	Endpoint   string // the URL posted to
	StatusCode int
	Message    string // the server's error message, or the start of its body
}

func (e *EmbeddingAPIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = "(empty body)"
	}
	return fmt.Sprintf("embedder: POST %s: %d %s: %s", e.Endpoint, e.StatusCode, http.StatusText(e.StatusCode), msg)
}

// Temporary reports whether retrying may help (429 and 5xx).
func (e *EmbeddingAPIError) Temporary() bool {
	return e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500
}

// OpenAIEmbedder embeds texts with an OpenAI-compatible
// POST {base}/v1/embeddings endpoint (OpenAI, vLLM, llama.cpp, Ollama, TEI,
// LocalAI …). Large inputs are split into requests of BatchSize texts, sent
// one after another. Vectors are L2-normalised; blank texts are not sent
// and get a zero vector once the dimension is known. Safe for concurrent
// use.
type OpenAIEmbedder struct {
	cfg      OpenAIConfig
	endpoint string // the URL posted to
	printed  string // endpoint without credentials, for errors
	client   *http.Client
	sleep    func(ctx context.Context, d time.Duration) error
	dim      atomic.Int64 // last vector length seen (or cfg.Dimension)
}

var _ Embedder = (*OpenAIEmbedder)(nil)

// NewOpenAIEmbedder returns an embedder for cfg. client nil means a new
// http.Client; it is used through a copy that follows no redirect (a 3xx
// is a failed request, not retried). sleep nil means a timer that stops early when ctx is done
// (tests pass one that does not wait). No request is made.
func NewOpenAIEmbedder(cfg OpenAIConfig, client *http.Client, sleep func(ctx context.Context, d time.Duration) error) (*OpenAIEmbedder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = openAIDefaultBatch
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = openAIDefaultTimeout
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = openAIDefaultRetries
	} else if cfg.MaxRetries < 0 {
		cfg.MaxRetries = 0
	}
	if sleep == nil {
		sleep = openaihttp.Sleep
	}
	ep := openaihttp.RedactedURL(openaihttp.Endpoint(cfg.BaseURL, "embeddings"))
	e := &OpenAIEmbedder{cfg: cfg, endpoint: openaihttp.Endpoint(cfg.BaseURL, "embeddings"), printed: ep,
		client: openaihttp.NoRedirects(client), sleep: sleep}
	e.dim.Store(int64(cfg.Dimension))
	return e, nil
}

// String describes the embedder without its API key.
func (e *OpenAIEmbedder) String() string {
	return fmt.Sprintf("openai-embedder(%s, model %q)", e.printed, e.cfg.Model)
}

// Embed returns one L2-normalised vector per text, in order.
func (e *OpenAIEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	var idx []int // positions of the texts to send
	var send []string
	for i, t := range texts {
		if strings.TrimSpace(t) != "" {
			idx = append(idx, i)
			send = append(send, t)
		}
	}
	if len(send) == 0 && len(texts) > 0 && e.dim.Load() == 0 {
		// Only blank texts and the dimension is not known yet: let the
		// server answer them.
		for i, t := range texts {
			idx = append(idx, i)
			send = append(send, t)
		}
	}
	for start := 0; start < len(send); start += e.cfg.BatchSize {
		end := min(start+e.cfg.BatchSize, len(send))
		vecs, err := e.embedBatch(ctx, send[start:end])
		if err != nil {
			return nil, err
		}
		for k, v := range vecs {
			out[idx[start+k]] = v
		}
	}
	if dim := int(e.dim.Load()); dim > 0 {
		for i := range out {
			if out[i] == nil {
				out[i] = make([]float32, dim)
			}
		}
	}
	return out, nil
}

type openAIRequest struct {
	Model string   `json:"model,omitempty"`
	Input []string `json:"input"`
}

type openAIResponse struct {
	Data []struct {
		Index     int       `json:"index"`
		Embedding []float32 `json:"embedding"`
	} `json:"data"`
}

// embedBatch sends one request, retrying temporary failures.
func (e *OpenAIEmbedder) embedBatch(ctx context.Context, texts []string) ([][]float32, error) {
	body, err := json.Marshal(openAIRequest{Model: e.cfg.Model, Input: texts})
	if err != nil {
		return nil, fmt.Errorf("embedder: POST %s: encode request: %w", e.printed, err)
	}
	var lastErr error
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("embedder: POST %s: %w", e.printed, err)
		}
		vecs, retryAfter, err := e.post(ctx, body, len(texts))
		if err == nil {
			return vecs, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			return nil, fmt.Errorf("embedder: POST %s: %w", e.printed, ctx.Err())
		}
		if !openAIRetryable(err) || attempt >= e.cfg.MaxRetries {
			if attempt > 0 {
				return nil, fmt.Errorf("%w (after %d attempts)", lastErr, attempt+1)
			}
			return nil, lastErr
		}
		d := openaihttp.Backoff(attempt, openAIBackoffBase, openAIBackoffMax)
		if retryAfter > d {
			d = min(retryAfter, openAIBackoffMax)
		}
		if err := e.sleep(ctx, d); err != nil {
			return nil, fmt.Errorf("embedder: POST %s: %w (last error: %v)", e.printed, err, lastErr)
		}
	}
}

// openAIRetryable reports whether err is worth another attempt.
func openAIRetryable(err error) bool {
	var apiErr *EmbeddingAPIError
	if errors.As(err, &apiErr) {
		return apiErr.Temporary()
	}
	var perm *openAIPermanentError
	return !errors.As(err, &perm) // transport errors and attempt timeouts
}

// openAIPermanentError marks a malformed response, which a retry will not
// fix.
type openAIPermanentError struct{ err error }

func (e *openAIPermanentError) Error() string { return e.err.Error() }
func (e *openAIPermanentError) Unwrap() error { return e.err }

// post makes one attempt. retryAfter is the server's Retry-After, if any.
func (e *OpenAIEmbedder) post(ctx context.Context, body []byte, n int) (vecs [][]float32, retryAfter time.Duration, err error) {
	actx, cancel := context.WithTimeout(ctx, e.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, e.endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, 0, &openAIPermanentError{fmt.Errorf("embedder: POST %s: %w", e.printed, err)}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if e.cfg.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+e.cfg.APIKey)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("embedder: POST %s: %w", e.printed, openaihttp.ScrubURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		msg, _ := openaihttp.FailureMessage(resp)
		return nil, openaihttp.RetryAfter(resp.Header.Get("Retry-After"), openAIMaxRetryAfter), &EmbeddingAPIError{
			Endpoint:   e.printed,
			StatusCode: resp.StatusCode,
			Message:    msg,
		}
	}
	raw, err := openaihttp.ReadAll(resp.Body, openAIMaxBody)
	if err != nil && !errors.Is(err, openaihttp.ErrTooLarge) {
		return nil, 0, fmt.Errorf("embedder: POST %s: read response: %w", e.printed, err)
	}
	var r openAIResponse
	if err == nil {
		err = json.Unmarshal(raw, &r)
	}
	if err != nil {
		return nil, 0, &openAIPermanentError{fmt.Errorf("embedder: POST %s: %d: decode response: %w", e.printed, resp.StatusCode, err)}
	}
	vecs, err = e.collect(&r, n)
	if err != nil {
		return nil, 0, &openAIPermanentError{fmt.Errorf("embedder: POST %s: %w", e.printed, err)}
	}
	return vecs, 0, nil
}

// collect orders the response's vectors by index, checks them and
// normalises them.
func (e *OpenAIEmbedder) collect(r *openAIResponse, n int) ([][]float32, error) {
	if len(r.Data) != n {
		return nil, fmt.Errorf("response has %d embeddings for %d inputs", len(r.Data), n)
	}
	out := make([][]float32, n)
	dim := len(r.Data[0].Embedding)
	for _, d := range r.Data {
		if d.Index < 0 || d.Index >= n {
			return nil, fmt.Errorf("response index %d out of range [0, %d)", d.Index, n)
		}
		if out[d.Index] != nil {
			return nil, fmt.Errorf("response index %d repeated", d.Index)
		}
		if want := e.cfg.Dimension; want > 0 && len(d.Embedding) != want {
			return nil, fmt.Errorf("model %q returned a vector of dimension %d, configured dimension is %d", e.cfg.Model, len(d.Embedding), want)
		}
		if len(d.Embedding) != dim || dim == 0 {
			return nil, fmt.Errorf("response vectors have dimensions %d and %d", dim, len(d.Embedding))
		}
		openAINormalize(d.Embedding)
		out[d.Index] = d.Embedding
	}
	e.dim.Store(int64(dim))
	return out, nil
}

// openAINormalize scales v to unit L2 norm in place (a zero vector stays).
func openAINormalize(v []float32) {
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	if ss == 0 || math.IsNaN(ss) || math.IsInf(ss, 0) {
		return
	}
	inv := 1 / math.Sqrt(ss)
	for i, x := range v {
		v[i] = float32(float64(x) * inv)
	}
}
