package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/longmem/longmem/memory"
	"github.com/longmem/longmem/retrieval"
)

// headerIdempotencyKey makes an append happen at most once.
const headerIdempotencyKey = "Idempotency-Key"

// maxIdempotencyKeyLen bounds the Idempotency-Key header (visible ASCII).
const maxIdempotencyKeyLen = 255

// appendTurnsRequest is the body of POST /v1/conversations/{id}/turns.
type appendTurnsRequest struct {
	Turns []turnRequest `json:"turns"`
}

// turnRequest is one turn to append. CreatedAt is RFC 3339; empty means
// the store's clock.
type turnRequest struct {
	Role      string         `json:"role"`
	Name      string         `json:"name,omitempty"`
	Content   string         `json:"content"`
	CreatedAt string         `json:"created_at,omitempty"`
	Metadata  map[string]any `json:"metadata,omitempty"`
}

// toTurns validates the request and converts it to turns to store, their
// content tokens counted with tok. maxTurnBytes bounds each content, in
// bytes; a larger one is a 413. Every turn is validated before any is
// counted, and counting stops when ctx ends (the client went away): the
// CPU a request costs is bounded by its body and by its client's patience.
func (r *appendTurnsRequest) toTurns(ctx context.Context, maxTurnBytes int, tok retrieval.Tokenizer) ([]memory.Turn, error) {
	if len(r.Turns) == 0 {
		return nil, memory.Invalid("turns", "no turns to append (want 1 to %d)", memory.MaxAppendTurns)
	}
	if len(r.Turns) > memory.MaxAppendTurns {
		return nil, memory.Invalid("turns", "%d turns in one append; the maximum is %d", len(r.Turns), memory.MaxAppendTurns)
	}
	turns := make([]memory.Turn, len(r.Turns))
	for i, t := range r.Turns {
		field := func(name string) string { return fmt.Sprintf("turns[%d].%s", i, name) }
		role := memory.Role(t.Role)
		switch {
		case t.Role == "":
			return nil, memory.Invalid(field("role"), "is required (user, assistant, system or tool)")
		case !role.Valid():
			return nil, memory.Invalid(field("role"), "unknown role %s (want user, assistant, system or tool)", quote(t.Role))
		case t.Content == "":
			return nil, memory.Invalid(field("content"), "is required and must not be empty")
		case len(t.Content) > maxTurnBytes:
			return nil, tooLarge("%s is %d bytes; the limit is %d", field("content"), len(t.Content), maxTurnBytes)
		case len(t.Name) > maxLabelBytes:
			return nil, memory.Invalid(field("name"), "is %d bytes; the maximum is %d", len(t.Name), maxLabelBytes)
		}
		var created time.Time
		if t.CreatedAt != "" {
			var err error
			created, err = time.Parse(time.RFC3339Nano, t.CreatedAt)
			if err != nil {
				return nil, memory.Invalid(field("created_at"), "%s is not an RFC 3339 time (e.g. 2025-05-01T12:00:00Z)", quote(t.CreatedAt))
			}
		}
		turns[i] = memory.Turn{Role: role, Name: t.Name, Content: t.Content, CreatedAt: created, Metadata: t.Metadata}
	}
	for i := range turns {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		turns[i].Tokens = tok.Count(turns[i].Content)
	}
	return turns, nil
}

// hash is the SHA-256 of the canonical form of the request to conversation
// id: re-encoded JSON, so spacing and key order do not matter.
func (r *appendTurnsRequest) hash(id string) string {
	b, err := json.Marshal(struct {
		Conversation string        `json:"conversation"`
		Turns        []turnRequest `json:"turns"`
	}{id, r.Turns})
	if err != nil {
		// Decoded JSON always re-encodes; reaching here is a bug.
		panic(fmt.Sprintf("api: encode append request: %v", err))
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// turnResponse is a stored turn as the API shows it.
type turnResponse struct {
	Seq       int64          `json:"seq"`
	Role      memory.Role    `json:"role"`
	Name      string         `json:"name"`
	Content   string         `json:"content"`
	CreatedAt time.Time      `json:"created_at"`
	Tokens    int            `json:"tokens"`
	Metadata  map[string]any `json:"metadata"`
}

func newTurnResponse(t memory.Turn) turnResponse {
	md := t.Metadata
	if md == nil {
		md = map[string]any{}
	}
	return turnResponse{
		Seq: t.Seq, Role: t.Role, Name: t.Name, Content: t.Content,
		CreatedAt: t.CreatedAt, Tokens: t.Tokens, Metadata: md,
	}
}

func newTurnResponses(turns []memory.Turn) []turnResponse {
	out := make([]turnResponse, len(turns))
	for i, t := range turns {
		out[i] = newTurnResponse(t)
	}
	return out
}

// appendTurnsResponse is the body of a 201 from an append.
type appendTurnsResponse struct {
	Turns []turnResponse `json:"turns"`
}

// listTurnsResponse is a page of turns in ascending seq order; Next, when
// not null, is the after= of the next page (the last seq returned).
type listTurnsResponse struct {
	Turns []turnResponse `json:"turns"`
	Next  *int64         `json:"next"`
}

func (s *Server) appendTurns(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	key := c.Request().Header.Get(headerIdempotencyKey)
	if key != "" && !printableASCII(key, maxIdempotencyKeyLen) {
		return memory.Invalid(headerIdempotencyKey, "must be 1 to %d visible ASCII characters", maxIdempotencyKeyLen)
	}
	var req appendTurnsRequest
	if err := decodeJSON(c, &req, false); err != nil {
		return err
	}
	if err := s.admitTurns(c, len(req.Turns)); err != nil {
		return err
	}
	turns, err := req.toTurns(c.Request().Context(), s.cfg.MaxTurnBytes, s.deps.Tokenizer)
	if err != nil {
		return err
	}
	opts := memory.AppendOptions{IdempotencyKey: key}
	if key != "" {
		opts.RequestHash = req.hash(id)
	}
	stored, err := s.store.AppendTurns(c.Request().Context(), tenant(c), id, turns, opts)
	if err != nil {
		return appendErr(err, id, key)
	}
	s.appended(tenant(c), id, stored)
	return c.JSON(http.StatusCreated, appendTurnsResponse{Turns: newTurnResponses(stored)})
}

func (s *Server) listTurns(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	after, err := seqQuery(c, "after")
	if err != nil {
		return err
	}
	limit, err := limitQuery(c)
	if err != nil {
		return err
	}
	// One more than the page tells whether anything follows.
	turns, err := s.store.Turns(c.Request().Context(), tenant(c), id, after, limit+1)
	if err != nil {
		return conversationErr(err, id)
	}
	resp := listTurnsResponse{}
	if len(turns) > limit {
		turns = turns[:limit]
		next := turns[limit-1].Seq
		resp.Next = &next
	}
	resp.Turns = newTurnResponses(turns)
	return c.JSON(http.StatusOK, resp)
}

func (s *Server) getTurn(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	seq, err := seqParam(c)
	if err != nil {
		return err
	}
	t, err := s.store.GetTurn(c.Request().Context(), tenant(c), id, seq)
	if err != nil {
		return turnErr(err, id, seq)
	}
	return c.JSON(http.StatusOK, newTurnResponse(t))
}

func (s *Server) deleteTurn(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	seq, err := seqParam(c)
	if err != nil {
		return err
	}
	// Forget in the index first: should the store fail after, the turn
	// stays stored but is never recalled, rather than recalled once
	// forgotten.
	if err := s.deps.Indexer.Forget(c.Request().Context(), tenant(c), id, seq); err != nil {
		return err
	}
	if err := s.store.DeleteTurn(c.Request().Context(), tenant(c), id, seq); err != nil {
		return turnErr(err, id, seq)
	}
	if s.deps.Compactor != nil {
		// The summaries that covered the turn are stale now: rebuild them
		// without it soon rather than at the next append.
		s.deps.Compactor.Trigger(tenant(c), id)
	}
	return c.NoContent(http.StatusNoContent)
}
