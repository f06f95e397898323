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
