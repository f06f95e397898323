package api

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/longmem/longmem/bots"
	"github.com/longmem/longmem/bots/card"
	"github.com/longmem/longmem/memory"
)

// Character Cards (import/export) and the lorebook test of BOTS_API.

// importBot creates a bot from a Character Card: V1/V2/V3 JSON, or a PNG
// with the card in its chara/ccv3 text chunk, as the body or as the
// multipart form field "file". ?id= names the new bot (default: generated).
func (s *Server) importBot(c echo.Context) error {
	body, err := uploadBody(c, "a Character Card (JSON or PNG)")
	if err != nil {
		return err
	}
	b, err := card.Parse(body)
	if err != nil {
		return err
	}
	if bytes.HasPrefix(body, []byte("\x89PNG")) {
		if pic, err := card.Picture(body); err == nil && len(pic) <= bots.MaxAvatarBytes {
			b.Avatar = pic // the card's picture, kept for its export
		} else if err == nil {
			c.Response().Header().Set("X-Avatar", fmt.Sprintf("not kept: %d bytes, more than the %d allowed", len(pic), bots.MaxAvatarBytes))
		}
	}
	dup := c.QueryParam("duplicate")
	if dup != "" && dup != "copy" {
		return memory.Invalid("duplicate", "%q: want copy (import even when the same card is already a bot) or nothing", clipParam(dup))
	}
	who, err := author(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	hash := bots.ContentHash(b)
	if dup == "" {
		existing, found, err := bots.FindSame(ctx, s.deps.Bots, tenant(c), hash)
		if err != nil {
			return err
		}
		if found {
			return s.duplicateImport(c, existing)
		}
	}
	b.ID = c.QueryParam("id")
	if b.ID == "" {
		b.ID = "b" + newID(s.deps.Clock())[1:]
	}
	created, err := s.deps.Bots.Create(ctx, tenant(c), b, who)
	if err != nil {
		return botErr(err, b.ID)
	}
	c.Response().Header().Set(echo.HeaderLocation, "/v1/bots/"+created.ID)
	return respondBot(c, http.StatusCreated, created)
}

// duplicateImport answers an import of a card that is already bot
// existing: 200 with that bot (X-Duplicate-Of names it), or, when ?id=
// asked for another id, 409 saying so. ?duplicate=copy imports anyway.
func (s *Server) duplicateImport(c echo.Context, existing bots.Bot) error {
	if id := c.QueryParam("id"); id != "" && id != existing.ID {
		return &storeError{err: memory.ErrConflict,
			conflict: "this card is already bot " + strconv.Quote(existing.ID) + " (duplicate_of); import it with ?duplicate=copy to make another bot of it"}
	}
	c.Response().Header().Set("X-Duplicate-Of", existing.ID)
	c.Response().Header().Set(echo.HeaderLocation, "/v1/bots/"+existing.ID)
	return respondBot(c, http.StatusOK, existing)
}

// uploadBody is an uploaded file's bytes: the multipart field "file", or
// the body. what names the file expected, for errors.
func uploadBody(c echo.Context, what string) ([]byte, error) {
	req := c.Request()
	mt, _, _ := mime.ParseMediaType(req.Header.Get(echo.HeaderContentType))
	var r io.Reader = req.Body
	if mt == echo.MIMEMultipartForm {
		fh, err := c.FormFile("file")
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, err
			}
			return nil, memory.Invalid("file", "want %s as the multipart form field \"file\": %v", what, err)
		}
		f, err := fh.Open()
		if err != nil {
			return nil, memory.Invalid("file", "reading the uploaded file: %v", err)
		}
		defer f.Close()
		r = f
	}
	body, err := io.ReadAll(r)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		return nil, memory.Invalid("body", "reading the request body: %v", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, memory.Invalid("body", "the request body is empty; want %s", what)
	}
	return body, nil
}

// exportCard writes the latest version of a bot as a Character Card:
// ?format=v2 (default), v3 or png (a placeholder image carrying both).
func (s *Server) exportCard(c echo.Context) error {
	format := card.Format(strings.ToLower(c.QueryParam("format")))
	switch format {
	case "":
		format = card.V2
	case card.V2, card.V3, card.PNG:
	default:
		return memory.Invalid("format", "%q is not a card format (want v2, v3 or png)", clipParam(string(format)))
	}
	b, err := s.latestBot(c)
	if err != nil {
		return err
	}
	c.Response().Header().Set("ETag", bots.ETag(b.ID, b.Version))
	if format == card.PNG {
		out, err := card.ExportPNG(b, b.Avatar) // the card's picture, else a placeholder
		if err != nil {
			return err
		}
		c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="`+b.ID+`.png"`)
		return c.Blob(http.StatusOK, "image/png", out)
	}
	out, err := card.Export(b, format)
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, out)
}

func clipParam(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// loreTestRequest is the body of POST /v1/bots/{id}/lore/test.
type loreTestRequest struct {
	// Text is scanned as the new message.
	Text string `json:"text"`
	// Recent are earlier turns, newest first, scanned up to the
	// lorebook's scan depth.
	Recent []string `json:"recent,omitempty"`
	// User replaces {{user}} in keys and contents.
	User string `json:"user,omitempty"`
}

type loreTestEntry struct {
	ID      int      `json:"id"`
	Name    string   `json:"name"`
	Content string   `json:"content"`
	Reasons []string `json:"reasons"`
}

type loreTestResponse struct {
	Triggered []loreTestEntry `json:"triggered"`
	Constant  []int           `json:"constant"`
}

// loreTest says which lorebook entries of a bot's latest version trigger
// for a text (and, optionally, recent turns).
func (s *Server) loreTest(c echo.Context) error {
	id, err := botIDParam(c)
	if err != nil {
		return err
	}
	var req loreTestRequest
	if err := decodeJSON(c, &req, false); err != nil {
		return err
	}
	if len(req.Text) > s.cfg.MaxTurnBytes {
		return tooLarge("text is %d bytes; the limit is %d", len(req.Text), s.cfg.MaxTurnBytes)
	}
	for i, r := range req.Recent {
		if len(r) > s.cfg.MaxTurnBytes {
			return tooLarge("recent[%d] is %d bytes; the limit is %d", i, len(r), s.cfg.MaxTurnBytes)
		}
	}
	b, err := s.deps.Bots.Get(c.Request().Context(), tenant(c), id)
	if err != nil {
		return botErr(err, id)
	}
	scan := []string{req.Text}
	depth := b.Lorebook.EffectiveScanDepth()
	for i, r := range req.Recent {
		if i >= depth {
			break
		}
		scan = append(scan, r)
	}
	resp := loreTestResponse{Triggered: []loreTestEntry{}, Constant: []int{}}
	for _, it := range (bots.LoreSource{Book: b.Lorebook, Char: b.Name, User: req.User}).Triggered(scan) {
		if it.Constant {
			resp.Constant = append(resp.Constant, it.ID)
			continue
		}
		resp.Triggered = append(resp.Triggered, loreTestEntry{ID: it.ID, Name: it.Name, Content: it.Content, Reasons: it.Reasons})
	}
	c.Response().Header().Set("ETag", bots.ETag(b.ID, b.Version))
	return c.JSON(http.StatusOK, resp)
}
