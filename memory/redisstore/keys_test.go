package redisstore

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// hashTag is the part of key Redis Cluster hashes: the text between the
// first '{' and the next '}', when not empty; else the whole key.
func hashTag(key string) string {
	open := strings.IndexByte(key, '{')
	if open < 0 {
		return key
	}
	end := strings.IndexByte(key[open+1:], '}')
	if end <= 0 {
		return key
	}
	return key[open+1 : open+1+end]
}

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"":              "",
		"plain-id_1.2~": "plain-id_1.2~",
		"{x}":           "%7Bx%7D",
		"a/b":           "a%2Fb",
		"a:b":           "a%3Ab",
		"%7B":           "%257B",
		"é":             "%C3%A9",
		"with space":    "with%20space",
	} {
		require.Equal(t, want, escape(in), "escape(%q)", in)
	}
}

func TestKeysShareOneStableTag(t *testing.T) {
	s := &Store{cfg: Config{KeyPrefix: "lm"}}
	pairs := []struct{ tenant, id string }{
		{"acme", "c1"}, {"a/b", "c"}, {"a", "b/c"}, {"t{1}", "{x}"}, {"t", "}{"}, {"", "x"}, {"t", "a:b}"},
	}
	seen := map[string]bool{}
	for _, p := range pairs {
		k := s.keys(p.tenant, p.id)
		tag := hashTag(k.conv)
		require.Equal(t, escape(p.tenant)+"/"+escape(p.id), tag)
		for _, key := range []string{k.turns, k.idems, k.idem("k"), k.idem("{other}"), k.sums, k.sumOrder, k.sumStale, k.sumVer} {
			require.Equal(t, tag, hashTag(key), "%q/%q: %s", p.tenant, p.id, key)
		}
		require.False(t, seen[tag], "tag %s shared by two conversations", tag)
		seen[tag] = true
	}
	require.Equal(t, "lm:{acme/c1}:conv", s.keys("acme", "c1").conv)
	require.Equal(t, "lm:{acme/c1}:idem:k%2F1", s.keys("acme", "c1").idem("k/1"))
	require.Equal(t, "lm:tenant:{t%7B1%7D}:convs", s.tenantKey("t{1}"))
	require.Equal(t, "lm:{acme/c1}:sums:order", s.keys("acme", "c1").sumOrder)
}

func TestSummaryNamesSortByLevelThenFrom(t *testing.T) {
	names := []string{
		sumName(0, 1, 9), sumName(0, 10, 99), sumName(0, 100, 1000), sumName(0, 1001, math.MaxInt64),
		sumName(2, 1, 5), sumName(10, 1, 5), sumName(math.MaxInt32, 1, 1),
	}
	for i := 1; i < len(names); i++ {
		require.Less(t, names[i-1], names[i])
	}
	for _, n := range names {
		require.Len(t, n, 50, "fixed width: the scripts read to_seq at byte 32")
	}
	require.Equal(t, sumLevelPrefix(10), sumName(10, 1, 5)[:11])
	require.Equal(t, sumPrefix(10, 1), sumName(10, 1, 5)[:31])
}

func TestConfigValidate(t *testing.T) {
	for name, tc := range map[string]struct {
		cfg Config
		ok  bool
	}{
		"zero":            {Config{}, true},
		"cluster":         {Config{Addrs: []string{"a:1", "b:1"}, KeyPrefix: "x"}, true},
		"empty addr":      {Config{Addrs: []string{""}}, false},
		"negative db":     {Config{DB: -1}, false},
		"db in cluster":   {Config{DB: 1, Cluster: true}, false},
		"brace in prefix": {Config{KeyPrefix: "a{b"}, false},
		"negative ttl":    {Config{IdempotencyTTL: -time.Second}, false},
		"sub-ms ttl":      {Config{IdempotencyTTL: time.Microsecond}, false},
		"negative pool":   {Config{PoolSize: -1}, false},
	} {
		err := tc.cfg.Validate()
		if tc.ok {
			require.NoError(t, err, name)
		} else {
			require.Error(t, err, name)
		}
	}
}

func TestConfigStringRedactsPassword(t *testing.T) {
	s := Config{Password: "hunter2"}.String()
	require.NotContains(t, s, "hunter2")
	require.Contains(t, s, "REDACTED")
}
