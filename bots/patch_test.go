package bots

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/memory"
)

func TestMergePatch(t *testing.T) {
	base := validBot()
	base.Tenant = "acme"
	base.Metadata = map[string]any{"keep": "x", "drop": "y", "nested": map[string]any{"a": 1.0, "b": 2.0}}

	got, err := MergePatch(base, []byte(`{
		"name": "Aria II",
		"description": null,
		"model": {"temperature": null, "top_p": 0.5},
		"tags": ["new"],
		"metadata": {"drop": null, "nested": {"b": 3, "c": true}, "added": [1, 2]}
	}`))
	require.NoError(t, err)

	want := base
	want.Name = "Aria II"
	want.Description = ""
	want.Model.Temperature = nil
	want.Model.TopP = ptr(0.5)
	want.Tags = []string{"new"}
	want.Metadata = map[string]any{"keep": "x", "nested": map[string]any{"a": 1.0, "b": 3.0, "c": true}, "added": []any{1.0, 2.0}}
	require.Equal(t, want, got)
	require.Equal(t, "Aria", base.Name, "the input is not changed")

	got, err = MergePatch(base, []byte(`{}`))
	require.NoError(t, err)
	require.Equal(t, base, got, "an empty patch changes nothing")

	got, err = MergePatch(base, []byte(`{"lorebook": null}`))
	require.NoError(t, err)
	require.Nil(t, got.Lorebook)

	for _, tc := range []struct{ patch, field string }{
		{`[1]`, "body"},
		{`"x"`, "body"},
		{`{`, "body"},
		{`{} {}`, "body"},
		{`{"name": 3}`, "name"},
		{`{"model": {"context_window": "big"}}`, "model.context_window"},
		{`{"no_such_field": 1}`, "body"},
	} {
		_, err := MergePatch(base, []byte(tc.patch))
		var ie *memory.InvalidError
		require.True(t, errors.As(err, &ie), "%s: %v", tc.patch, err)
		require.Equal(t, tc.field, ie.Field, tc.patch)
	}
}

// FuzzMergePatch: any patch either applies or is a *memory.InvalidError;
// never a panic or another kind of error.
func FuzzMergePatch(f *testing.F) {
	for _, seed := range []string{`{}`, `{"name":"x"}`, `{"model":{"temperature":null}}`, `{"lorebook":{"entries":[{"id":1}]}}`, `[]`, `null`, `{"metadata":{"a":{"b":null}}}`, `{"tags":"x"}`} {
		f.Add([]byte(seed))
	}
	base := validBot()
	f.Fuzz(func(t *testing.T, patch []byte) {
		_, err := MergePatch(base, patch)
		if err != nil {
			var ie *memory.InvalidError
			require.True(t, errors.As(err, &ie), "%v", err)
		}
	})
}
