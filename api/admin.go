package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/longmem/longmem/memory"
)

// adminOnly lets a request through when it carries Config.AdminKey as its
// Bearer key; without an admin key configured, admin routes answer 403.
func (s *Server) adminOnly(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.cfg.AdminKey == "" {
			return echo.NewHTTPError(http.StatusForbidden, "admin routes are off: set api.admin_key (LONGMEM_ADMIN_KEY)")
		}
		scheme, key, _ := strings.Cut(c.Request().Header.Get(echo.HeaderAuthorization), " ")
		got, want := sha256.Sum256([]byte(strings.TrimSpace(key))), sha256.Sum256([]byte(s.cfg.AdminKey))
		if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			return &unauthorizedError{msg: `admin routes want "Authorization: Bearer ADMIN_KEY"`}
		}
		return next(c)
	}
}

// backup streams a consistent copy of the store (for the embedded store,
// its bbolt file) while the server goes on serving.
func (s *Server) backup(c echo.Context) error {
	b, ok := s.deps.Store.(memory.Backuper)
	if !ok {
		return echo.NewHTTPError(http.StatusNotImplemented, "this storage backend has no online backup (use its own: Redis RDB/AOF, or longmem export)")
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, echo.MIMEOctetStream)
	h.Set(echo.HeaderContentDisposition, `attachment; filename="longmem.db"`)
	c.Response().WriteHeader(http.StatusOK)
	// Once the body has begun, a failure can only cut it short: the
	// client checks the file it got (longmem backup does).
	if _, err := b.Backup(c.Request().Context(), c.Response()); err != nil {
		s.deps.Logger.Warn("backup cut short", "err", err)
	}
	return nil
}
