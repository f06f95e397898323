package api

import (
	"context"
	_ "embed"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/longmem/longmem/memory"
)

// openAPIDocument is the OpenAPI 3.1 description of every route.
//
//go:embed openapi.json
var openAPIDocument []byte

// readyTimeout bounds the storage ping of GET /readyz.
const readyTimeout = 2 * time.Second

// statusResponse is the body of the health endpoints.
type statusResponse struct {
	Status string `json:"status"`
}

// healthz answers while the process is up.
func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, statusResponse{Status: "ok"})
}

// readyz answers 200 when the storage is reachable and, after a failed
// write, writable again (see memory.Store.Ping); else 503 "unavailable"
// with Retry-After. The cause is logged, never shown: it names addresses.
func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), readyTimeout)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		if c.Request().Context().Err() != nil {
			return err
		}
		// A ping that ran out of readyTimeout is unavailability too.
		return memory.Unavailable(err)
	}
	return c.JSON(http.StatusOK, statusResponse{Status: "ok"})
}

// serveMetrics is the Prometheus exposition of Deps.Gatherer.
func (s *Server) serveMetrics(c echo.Context) error {
	s.metricsHandler.ServeHTTP(c.Response(), c.Request())
	return nil
}

// serveOpenAPI serves the embedded OpenAPI document.
func (s *Server) serveOpenAPI(c echo.Context) error {
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, openAPIDocument)
}
