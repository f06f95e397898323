package llm

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/url"
	"time"

	"github.com/longmem/longmem/internal/openaihttp"
)

// Defaults of Config.
const (
	DefaultTimeout           = 120 * time.Second
	DefaultFirstTokenTimeout = 30 * time.Second
	DefaultMaxRetries        = 2
)

// Config says where the inference backend is and which defaults a request
// gets. Every zero field takes its default; only BaseURL is required.
type Config struct {
	// BaseURL of the OpenAI-compatible server, with or without the
	// trailing "/v1" ("http://localhost:8000", "http://localhost:11434/v1"
	// and "https://api.hunyuan.cloud.tencent.com/v1/" all work). A path
	// ending in another version segment ("/api/v3") is kept as is.
	BaseURL string `yaml:"base_url" json:"base_url"`
	// Model is sent as "model" unless the request names one; empty sends
	// none (servers that serve one model accept that).
	Model string `yaml:"model" json:"model,omitempty"`
	// APIKey is sent as a Bearer token when set. It is a secret: it comes
	// from the environment, is never serialised, and String, GoString,
	// Format and LogValue redact it.
	APIKey string `yaml:"-" json:"-"`
	// Timeout bounds a whole Complete or Stream call: every attempt, the
	// waits between them and the streamed body (0: DefaultTimeout).
	Timeout time.Duration `yaml:"timeout" json:"timeout,omitempty"`
	// FirstTokenTimeout bounds, in Stream, the wait from sending a request
	// to the first token (a delta with content or reasoning, or a
	// finish_reason) (0: DefaultFirstTokenTimeout). Complete ignores it.
	FirstTokenTimeout time.Duration `yaml:"first_token_timeout" json:"first_token_timeout,omitempty"`
	// MaxRetries is how many times a request is sent again after a
	// connection error (a stream that broke before its first token
	// included), 429 or 5xx, only while no token has been received (0:
	// DefaultMaxRetries; negative: never). Timeouts, other statuses and
	// malformed answers are not retried.
	MaxRetries int `yaml:"max_retries" json:"max_retries,omitempty"`

	// Defaults of a ChatRequest's sampling fields; nil and 0 send nothing
	// and leave the choice to the server.
	Temperature *float64 `yaml:"temperature" json:"temperature,omitempty"`
	TopP        *float64 `yaml:"top_p" json:"top_p,omitempty"`
	MaxTokens   int      `yaml:"max_tokens" json:"max_tokens,omitempty"`
	Stop        []string `yaml:"stop" json:"stop,omitempty"`
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if c.BaseURL == "" {
		return errors.New("llm: base_url is required")
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil {
		return fmt.Errorf("llm: base_url: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("llm: base_url %q must be an http or https URL", u.Redacted())
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("llm: base_url %q must have no query or fragment", u.Redacted())
	}
	if c.Timeout < 0 {
		return fmt.Errorf("llm: timeout %s is negative", c.Timeout)
	}
	if c.FirstTokenTimeout < 0 {
		return fmt.Errorf("llm: first_token_timeout %s is negative", c.FirstTokenTimeout)
	}
	if err := checkSampling(c.Temperature, c.TopP, c.MaxTokens); err != nil {
		return err
	}
	return nil
}

// checkSampling checks the ranges OpenAI documents: temperature in [0, 2],
// top_p in [0, 1], max_tokens ≥ 0.
func checkSampling(temperature, topP *float64, maxTokens int) error {
	if t := temperature; t != nil && (math.IsNaN(*t) || *t < 0 || *t > 2) {
		return fmt.Errorf("llm: temperature %v is outside [0, 2]", *t)
	}
	if p := topP; p != nil && (math.IsNaN(*p) || *p < 0 || *p > 1) {
		return fmt.Errorf("llm: top_p %v is outside [0, 1]", *p)
	}
	if maxTokens < 0 {
		return fmt.Errorf("llm: max_tokens %d is negative", maxTokens)
	}
	return nil
}

// withDefaults fills the zero fields.
func (c Config) withDefaults() Config {
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.FirstTokenTimeout == 0 {
		c.FirstTokenTimeout = DefaultFirstTokenTimeout
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = DefaultMaxRetries
	} else if c.MaxRetries < 0 {
		c.MaxRetries = 0
	}
	return c
}

// RedactedURL is raw without a password, for errors and printing.
func RedactedURL(raw string) string { return openaihttp.RedactedURL(raw) }

func redact(secret string) string { return openaihttp.Redact(secret) }

func floatString(f *float64) string {
	if f == nil {
		return "<nil>"
	}
	return fmt.Sprint(*f)
}

// String prints the Config with the API key redacted.
func (c Config) String() string {
	return fmt.Sprintf("llm.Config{BaseURL:%q Model:%q APIKey:%q Timeout:%s FirstTokenTimeout:%s MaxRetries:%d Temperature:%s TopP:%s MaxTokens:%d Stop:%q}",
		RedactedURL(c.BaseURL), c.Model, redact(c.APIKey), c.Timeout, c.FirstTokenTimeout, c.MaxRetries,
		floatString(c.Temperature), floatString(c.TopP), c.MaxTokens, c.Stop)
}

// GoString is String, so that %#v redacts the key too.
func (c Config) GoString() string { return c.String() }

// Format prints String for every verb, so that no verb (%d, %x …) prints
// the key.
func (c Config) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, c.String()) }

// LogValue logs the Config with the API key redacted.
func (c Config) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("base_url", RedactedURL(c.BaseURL)),
		slog.String("model", c.Model),
		slog.String("api_key", redact(c.APIKey)),
		slog.Duration("timeout", c.Timeout),
		slog.Duration("first_token_timeout", c.FirstTokenTimeout),
		slog.Int("max_retries", c.MaxRetries),
	}
	if c.Temperature != nil {
		attrs = append(attrs, slog.Float64("temperature", *c.Temperature))
	}
	if c.TopP != nil {
		attrs = append(attrs, slog.Float64("top_p", *c.TopP))
	}
	if c.MaxTokens != 0 {
		attrs = append(attrs, slog.Int("max_tokens", c.MaxTokens))
	}
	if len(c.Stop) > 0 {
		attrs = append(attrs, slog.Any("stop", c.Stop))
	}
	return slog.GroupValue(attrs...)
}
