package api

import (
	"encoding/json"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"
)

// TestOpenAPIMatchesRoutes keeps openapi.json true: every route echo
// serves is documented, and every documented operation is served.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	e := newEnv(t, Config{})
	r := e.must(http.StatusOK, "GET", "/openapi.json", "")
	require.Equal(t, echo.MIMEApplicationJSON, r.header.Get("Content-Type"))

	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(r.body, &doc))
	require.Equal(t, "3.1.0", doc.OpenAPI)

	methods := map[string]bool{"get": true, "put": true, "post": true, "delete": true, "options": true, "head": true, "patch": true, "trace": true}
	var documented []string
	for path, item := range doc.Paths {
		for m, op := range item {
			if !methods[m] {
				continue // "parameters", "summary", …
			}
			documented = append(documented, strings.ToUpper(m)+" "+path)
			require.NotEmpty(t, op.(map[string]any)["responses"], "%s %s has no responses", m, path)
		}
	}

	param := regexp.MustCompile(`:([A-Za-z0-9_]+)`)
	var served []string
	for _, rt := range e.srv.e.Routes() {
		if rt.Method == echo.RouteNotFound {
			continue
		}
		served = append(served, rt.Method+" "+param.ReplaceAllString(rt.Path, "{$1}"))
	}
	sort.Strings(documented)
	sort.Strings(served)
	require.Equal(t, served, documented)
}

// TestOpenAPIRefsResolve checks every $ref of the document points at a
// component that exists.
func TestOpenAPIRefsResolve(t *testing.T) {
	var doc map[string]any
	require.NoError(t, json.Unmarshal(openAPIDocument, &doc))
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				require.True(t, strings.HasPrefix(ref, "#/"), ref)
				var cur any = doc
				for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
					m, ok := cur.(map[string]any)
					require.True(t, ok, "unresolved %s", ref)
					cur, ok = m[part]
					require.True(t, ok, "unresolved %s", ref)
				}
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
}
