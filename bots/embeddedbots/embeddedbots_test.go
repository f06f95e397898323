package embeddedbots

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/longmem/longmem/bots"
	"github.com/longmem/longmem/bots/bottest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestContract(t *testing.T) {
	bottest.Run(t, func(t *testing.T) bots.Store {
		s, err := Open(Config{Dir: t.TempDir()})
		require.NoError(t, err)
		return s
	})
}

func TestReopenKeepsVersions(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s, err := Open(Config{Dir: dir})
	require.NoError(t, err)
	created, err := s.Create(ctx, "acme", bots.Bot{ID: "aria", Name: "Aria"}, "alice")
	require.NoError(t, err)
	_, err = s.Update(ctx, "acme", bots.Bot{ID: "aria", Name: "Aria 2"}, 1, "bob")
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "Close is idempotent")

	s, err = Open(Config{Dir: dir})
	require.NoError(t, err)
	defer s.Close()
	v1, err := s.GetVersion(ctx, "acme", "aria", 1)
	require.NoError(t, err)
	require.Equal(t, created, v1)
	got, err := s.Get(ctx, "acme", "aria")
	require.NoError(t, err)
	require.Equal(t, 2, got.Version)
	require.Equal(t, "Aria 2", got.Name)
}

func TestTenantPrefixesDoNotOverlap(t *testing.T) {
	ctx := t.Context()
	s, err := Open(Config{Dir: t.TempDir()})
	require.NoError(t, err)
	defer s.Close()
	// Tenant "a" with bot "bc" and tenant "ab" with bot "c" would share the
	// key "abc" without the length prefix.
	_, err = s.Create(ctx, "a", bots.Bot{ID: "bc", Name: "one"}, "x")
	require.NoError(t, err)
	_, err = s.Create(ctx, "ab", bots.Bot{ID: "c", Name: "two"}, "x")
	require.NoError(t, err)
	list, err := s.List(ctx, bots.ListOptions{Tenant: "a"})
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, "bc", list[0].ID)
}
