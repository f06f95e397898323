package api

import (
	"embed"
	"io/fs"
	"net/http"

	"github.com/labstack/echo/v4"
)

// uiAssets is the web page for bot designers: plain HTML, CSS and ES
// modules, no build step. The page talks only to the public REST API.
//
//go:embed ui
var uiAssets embed.FS

// uiCSP keeps the page to its own origin: no CDN, no external font, no
// inline script.
const uiCSP = "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"

// uiHandler serves the embedded assets under /ui/.
func uiHandler() http.Handler {
	sub, err := fs.Sub(uiAssets, "ui")
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	files := http.StripPrefix("/ui/", http.FileServer(http.FS(sub)))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", uiCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}

// serveUI serves one asset of the web page (index.html for /ui/).
func (s *Server) serveUI(c echo.Context) error {
	s.ui.ServeHTTP(c.Response(), c.Request())
	return nil
}

// redirectUI sends /ui to /ui/, so relative asset paths resolve.
func (s *Server) redirectUI(c echo.Context) error {
	return c.Redirect(http.StatusMovedPermanently, "/ui/")
}
