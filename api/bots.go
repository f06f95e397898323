package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/longmem/longmem/bots"
	"github.com/longmem/longmem/bots/card"
	"github.com/longmem/longmem/memory"
)

// The bots routes (BOTS_API): persona bots and their versions. A bot's JSON
// is bots.Bot's; every single-bot response carries its version's ETag.

// maxAuthorLen is the longest X-Author accepted, in characters.
const maxAuthorLen = 100

// maxBotQueryBytes bounds GET /v1/bots?q=.
const maxBotQueryBytes = 200

// patchAttempts bounds how often a PATCH (or a lorebook PUT) without
// If-Match is applied again after a concurrent update moved the latest
// version under it. Every round one of the racing writers wins, so with k
// writers at once the last needs k attempts; 5 made the sixth of six
// concurrent PATCHes fail now and then.
const patchAttempts = 16

// botVersionResponse is one item of GET /v1/bots/{id}/versions.
type botVersionResponse struct {
	Version   int       `json:"version"`
	Author    string    `json:"author"`
	CreatedAt time.Time `json:"created_at"`
	ETag      string    `json:"etag"`
}

type botVersionsResponse struct {
	Versions []botVersionResponse `json:"versions"`
}

// listBotsResponse is a page of bots in ascending id order; Next, when not
// null, is the after= cursor of the next page, as for conversations and
// turns. NextAfter is the same cursor ("" on the last page), the name it
// had before, kept for clients that read it.
type listBotsResponse struct {
	Bots      []botResponse `json:"bots"`
	Next      *string       `json:"next"`
	NextAfter string        `json:"next_after"`
}

// needBots answers 501 on the bots routes when the server has no bot store.
func (s *Server) needBots(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.deps.Bots == nil {
			return echo.NewHTTPError(http.StatusNotImplemented, "this server has no bot store")
		}
		return next(c)
	}
}

// botErr describes err as being about bot id.
func botErr(err error, id string) error {
	if err == nil {
		return nil
	}
	return &storeError{
		err:          err,
		notFound:     "bot " + strconv.Quote(id) + " not found",
		conflict:     "bot " + strconv.Quote(id) + " already exists",
		precondition: "bot " + strconv.Quote(id) + " has a newer version than If-Match names; read it again (GET) and retry",
	}
}

// botIDParam is the path's bot id, validated.
func botIDParam(c echo.Context) (string, error) {
	id := c.Param("id")
	if !bots.ValidID(id) {
		return "", memory.Invalid("id", "bot id %q is not 1 to %d characters of [A-Za-z0-9_-]", id, bots.MaxIDLen)
	}
	return id, nil
}

// versionParam is the path's version: an integer ≥ 1.
func versionParam(c echo.Context) (int, error) {
	s := c.Param("v")
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, memory.Invalid("v", "%q is not a bot version (want an integer ≥ 1)", s)
	}
	return n, nil
}

// author is who makes a version: X-Author (1..100 printable characters),
// else the API key's tenant, else "anonymous".
func author(c echo.Context) (string, error) {
	a := c.Request().Header.Get("X-Author")
	if a == "" {
		if t := tenant(c); t != "" {
			return t, nil
		}
		return "anonymous", nil
	}
	if !utf8.ValidString(a) {
		return "", memory.Invalid("X-Author", "is not valid UTF-8")
	}
	if n := utf8.RuneCountInString(a); n > maxAuthorLen {
		return "", memory.Invalid("X-Author", "is %d characters; the maximum is %d", n, maxAuthorLen)
	}
	if strings.IndexFunc(a, unicode.IsControl) >= 0 {
		return "", memory.Invalid("X-Author", "contains a control character")
	}
	return a, nil
}

// ifMatch reads If-Match for bot id: 0 when absent or "*" (unconditional),
// else the version its ETag names. A header naming no version of this bot
// (another bot's tag, a weak or malformed one) can never match: 412. With
// several of this bot's tags, the one naming the latest version counts.
func (s *Server) ifMatch(c echo.Context, id string) (int, error) {
	h := strings.TrimSpace(c.Request().Header.Get("If-Match"))
	if h == "" || h == "*" {
		return 0, nil
	}
	var versions []int
	for _, tag := range strings.Split(h, ",") {
		if tid, v, ok := bots.ParseETag(tag); ok && tid == id {
			versions = append(versions, v)
		}
	}
	switch len(versions) {
	case 0:
		return 0, &storeError{err: bots.ErrPrecondition,
			precondition: "If-Match " + strconv.Quote(h) + " names no version of bot " + strconv.Quote(id) + ` (want its ETag, e.g. ` + bots.ETag(id, 1) + ")"}
	case 1:
		return versions[0], nil
	}
	cur, err := s.deps.Bots.Get(c.Request().Context(), tenant(c), id)
	if err != nil {
		return 0, botErr(err, id)
	}
	for _, v := range versions {
		if v == cur.Version {
			return v, nil
		}
	}
	return 0, botErr(bots.ErrPrecondition, id)
}

// botResponse is a bot as the API shows it: its picture as where to get
// it, not its bytes.
type botResponse struct {
	bots.Bot
	Avatar *avatarInfo `json:"avatar,omitempty"`
}

// avatarInfo says a bot has a picture: GET URL for it.
type avatarInfo struct {
	URL   string `json:"url"`
	Bytes int    `json:"bytes"`
}

func newBotResponse(b bots.Bot) botResponse {
	r := botResponse{Bot: b}
	if len(b.Avatar) > 0 {
		r.Avatar = &avatarInfo{URL: "/v1/bots/" + b.ID + "/avatar", Bytes: len(b.Avatar)}
	}
	return r
}

// respondBot writes b with its ETag.
func respondBot(c echo.Context, status int, b bots.Bot) error {
	c.Response().Header().Set("ETag", bots.ETag(b.ID, b.Version))
	return c.JSON(status, newBotResponse(b))
}

func (s *Server) createBot(c echo.Context) error {
	var b bots.Bot
	if err := decodeJSON(c, &b, false); err != nil {
		return err
	}
	who, err := author(c)
	if err != nil {
		return err
	}
	if b.ID == "" {
		b.ID = "b" + newID(s.deps.Clock())[1:]
	}
	created, err := s.deps.Bots.Create(c.Request().Context(), tenant(c), b, who)
	if err != nil {
		return botErr(err, b.ID)
	}
	c.Response().Header().Set(echo.HeaderLocation, "/v1/bots/"+created.ID)
	return respondBot(c, http.StatusCreated, created)
}

func (s *Server) listBots(c echo.Context) error {
	limit, err := limitQuery(c)
	if err != nil {
		return err
	}
	after := c.QueryParam("after")
	if after != "" && !bots.ValidID(after) {
		return memory.Invalid("after", "cursor %q is not a bot id", after)
	}
	q, err := textQuery(c, "q", maxBotQueryBytes)
	if err != nil {
		return err
	}
	// One more than the page, when allowed, so next_after is "" exactly
	// when nothing follows.
	fetch := limit
	if fetch < memory.MaxListLimit {
		fetch++
	}
	list, err := s.deps.Bots.List(c.Request().Context(), bots.ListOptions{Tenant: tenant(c), Q: q, After: after, Limit: fetch})
	if err != nil {
		return err
	}
	var resp listBotsResponse
	if len(list) > limit || (fetch == limit && len(list) == limit) {
		list = list[:limit]
		resp.NextAfter = list[limit-1].ID
		resp.Next = &resp.NextAfter
	}
	resp.Bots = make([]botResponse, len(list))
	for i, b := range list {
		resp.Bots[i] = newBotResponse(b)
	}
	return c.JSON(http.StatusOK, resp)
}

// latestBot is the latest version of the bot the path names.
func (s *Server) latestBot(c echo.Context) (bots.Bot, error) {
	id, err := botIDParam(c)
	if err != nil {
		return bots.Bot{}, err
	}
	b, err := s.deps.Bots.Get(c.Request().Context(), tenant(c), id)
	return b, botErr(err, id)
}

func (s *Server) getBot(c echo.Context) error {
	b, err := s.latestBot(c)
	if err != nil {
		return err
	}
	return respondBot(c, http.StatusOK, b)
}

func (s *Server) putBot(c echo.Context) error {
	id, err := botIDParam(c)
	if err != nil {
		return err
	}
	var b bots.Bot
	if err := decodeJSON(c, &b, false); err != nil {
		return err
	}
	if b.ID != "" && b.ID != id {
		return memory.Invalid("id", "the body's id %q is not the path's %q", b.ID, id)
	}
	b.ID = id
	// A body without a picture keeps the current one (the API shows the
	// picture as {url, bytes}, which reads as none).
	return s.updateLatest(c, id, func(cur bots.Bot) (bots.Bot, error) {
		if b.Avatar == nil {
			b.Avatar = cur.Avatar
		}
		return b, nil
	})
}

// patchBot applies a JSON merge patch to the latest version. Without
// If-Match it is applied to whatever is latest, again if another update
// lands in between, so no concurrent update is lost.
func (s *Server) patchBot(c echo.Context) error {
	id, err := botIDParam(c)
	if err != nil {
		return err
	}
	var patch json.RawMessage
	if err := decodeJSON(c, &patch, false); err != nil {
		return err
	}
	return s.updateLatest(c, id, func(cur bots.Bot) (bots.Bot, error) {
		next, err := bots.MergePatch(cur, patch)
		if err != nil {
			return bots.Bot{}, err
		}
		if next.ID != id {
			return bots.Bot{}, memory.Invalid("id", "a bot's id cannot be changed (the patch sets %q)", next.ID)
		}
		return next, nil
	})
}

// updateLatest stores change(latest) as bot id's next version and answers
// it. With If-Match the latest must be the version it names (else 412);
// without, a concurrent update that lands in between makes it read the
// latest and apply change again (at most patchAttempts times), so no
// update is lost.
func (s *Server) updateLatest(c echo.Context, id string, change func(bots.Bot) (bots.Bot, error)) error {
	who, err := author(c)
	if err != nil {
		return err
	}
	ifv, err := s.ifMatch(c, id)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	for attempt := 1; ; attempt++ {
		cur, err := s.deps.Bots.Get(ctx, tenant(c), id)
		if err != nil {
			return botErr(err, id)
		}
		if ifv > 0 && cur.Version != ifv {
			return botErr(bots.ErrPrecondition, id)
		}
		next, err := change(cur)
		if err != nil {
			return err
		}
		updated, err := s.deps.Bots.Update(ctx, tenant(c), next, cur.Version, who)
		if err == nil {
			return respondBot(c, http.StatusOK, updated)
		}
		if ifv > 0 || attempt == patchAttempts || !errors.Is(err, bots.ErrPrecondition) {
			return botErr(err, id)
		}
	}
}

func (s *Server) deleteBot(c echo.Context) error {
	id, err := botIDParam(c)
	if err != nil {
		return err
	}
	if err := s.deps.Bots.Delete(c.Request().Context(), tenant(c), id); err != nil {
		return botErr(err, id)
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) listBotVersions(c echo.Context) error {
	id, err := botIDParam(c)
	if err != nil {
		return err
	}
	vs, err := s.deps.Bots.Versions(c.Request().Context(), tenant(c), id)
	if err != nil {
		return botErr(err, id)
	}
	resp := botVersionsResponse{Versions: make([]botVersionResponse, len(vs))}
	for i, v := range vs {
		resp.Versions[i] = botVersionResponse{
			Version: v.Version, Author: v.Author, CreatedAt: v.CreatedAt, ETag: bots.ETag(id, v.Version),
		}
	}
	return c.JSON(http.StatusOK, resp)
}

func (s *Server) getBotVersion(c echo.Context) error {
	id, err := botIDParam(c)
	if err != nil {
		return err
	}
	v, err := versionParam(c)
	if err != nil {
		return err
	}
	b, err := s.deps.Bots.GetVersion(c.Request().Context(), tenant(c), id, v)
	if err != nil {
		return &storeError{err: err, notFound: "version " + strconv.Itoa(v) + " of bot " + strconv.Quote(id) + " not found"}
	}
	return respondBot(c, http.StatusOK, b)
}

// restoreBotVersion stores a new version whose content is version v's.
func (s *Server) restoreBotVersion(c echo.Context) error {
	id, err := botIDParam(c)
	if err != nil {
		return err
	}
	v, err := versionParam(c)
	if err != nil {
		return err
	}
	who, err := author(c)
	if err != nil {
		return err
	}
	ifv, err := s.ifMatch(c, id)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	old, err := s.deps.Bots.GetVersion(ctx, tenant(c), id, v)
	if err != nil {
		return &storeError{err: err, notFound: "version " + strconv.Itoa(v) + " of bot " + strconv.Quote(id) + " not found"}
	}
	restored, err := s.deps.Bots.Update(ctx, tenant(c), old, ifv, who)
	if err != nil {
		return botErr(err, id)
	}
	return respondBot(c, http.StatusOK, restored)
}

// botTokens counts what a bot's texts cost against the shares of its
// budget: the body is a bot (the editor's draft, saved or not).
func (s *Server) botTokens(c echo.Context) error {
	var b bots.Bot
	if err := decodeJSON(c, &b, false); err != nil {
		return err
	}
	chat, err := s.chatLoop()
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, chat.Tokens(b, c.QueryParam("user")))
}

// getAvatar serves the picture of a bot's latest version; a bot without
// one gets a generated placeholder (X-Avatar: placeholder), so a list can
// show every bot alike.
func (s *Server) getAvatar(c echo.Context) error {
	b, err := s.latestBot(c)
	if err != nil {
		return err
	}
	c.Response().Header().Set("ETag", bots.ETag(b.ID, b.Version))
	c.Response().Header().Set("Cache-Control", "private, no-cache")
	if len(b.Avatar) == 0 {
		img, err := card.Placeholder(b.Name)
		if err != nil {
			return err
		}
		c.Response().Header().Set("X-Avatar", "placeholder")
		return c.Blob(http.StatusOK, "image/png", img)
	}
	return c.Blob(http.StatusOK, "image/png", b.Avatar)
}
