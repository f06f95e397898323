package api

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/longmem/longmem/bots"
	"github.com/longmem/longmem/bots/card"
	"github.com/longmem/longmem/memory"
)

// A bot's lorebook on its own, in the forms lorebooks travel in.

// putLorebook replaces a bot's lorebook, making a new version (If-Match as
// for PUT /v1/bots/{id}). The body (or the multipart field "file") is
// longmem's lorebook, a card's character_book, a SillyTavern World Info
// file or a whole Character Card (JSON or PNG), whose lorebook is taken.
// X-Lorebook-Format says which form was read.
func (s *Server) putLorebook(c echo.Context) error {
	id, err := botIDParam(c)
	if err != nil {
		return err
	}
	body, err := uploadBody(c, "a lorebook (longmem's, a card's character_book, or a SillyTavern World Info file)")
	if err != nil {
		return err
	}
	lb, form, err := card.ParseLorebook(body)
	if err != nil {
		return err
	}
	c.Response().Header().Set("X-Lorebook-Format", string(form))
	return s.updateLatest(c, id, func(cur bots.Bot) (bots.Bot, error) {
		cur.Lorebook = lb
		return cur, nil
	})
}

// getLorebook writes the lorebook of a bot's latest version:
// ?format=lorebook (default: longmem's JSON, also a card's character_book)
// or worldinfo (a SillyTavern World Info file).
func (s *Server) getLorebook(c echo.Context) error {
	format := card.LoreFormat(strings.ToLower(c.QueryParam("format")))
	switch format {
	case "", card.LoreLongmem, card.LoreWorldInfo:
	default:
		return memory.Invalid("format", "%q is not a lorebook format (want lorebook or worldinfo)", clipParam(string(format)))
	}
	b, err := s.latestBot(c)
	if err != nil {
		return err
	}
	if b.Lorebook == nil {
		return &storeError{err: memory.ErrNotFound, notFound: "bot " + strconv.Quote(b.ID) + " has no lorebook; PUT one to /v1/bots/" + b.ID + "/lorebook"}
	}
	c.Response().Header().Set("ETag", bots.ETag(b.ID, b.Version))
	if format != card.LoreWorldInfo {
		return c.JSON(http.StatusOK, b.Lorebook)
	}
	out, err := card.ExportWorldInfo(*b.Lorebook)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="`+b.ID+`-worldinfo.json"`)
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, out)
}
