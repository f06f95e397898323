package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/longmem/longmem/compaction"
	"github.com/longmem/longmem/memory"
)

// appended tells the background parts that a conversation grew: the
// indexer (to index the new turns) and the compactor (to fold turns that
// left the recent window). Neither call blocks.
func (s *Server) appended(tenant, id string, stored []memory.Turn) {
	if len(stored) == 0 {
		return
	}
	s.deps.Indexer.Notify(tenant, id, stored[len(stored)-1].Seq)
	if s.deps.Compactor != nil {
		s.deps.Compactor.Trigger(tenant, id)
	}
}

// summaryResponse is one summary as the API shows it.
type summaryResponse struct {
	Level     int       `json:"level"`
	FromSeq   int64     `json:"from_seq"`
	ToSeq     int64     `json:"to_seq"`
	FromTime  time.Time `json:"from_time"`
	ToTime    time.Time `json:"to_time"`
	Content   string    `json:"content"`
	Tokens    int       `json:"tokens"`
	CreatedAt time.Time `json:"created_at"`
	Producer  string    `json:"producer"`
	// Stale: a turn it covers was forgotten; it is being rebuilt.
	Stale bool `json:"stale,omitempty"`
}

type summariesResponse struct {
	Summaries []summaryResponse `json:"summaries"`
}

func newSummaryResponses(sums []memory.Summary) []summaryResponse {
	out := make([]summaryResponse, len(sums))
	for i, m := range sums {
		out[i] = summaryResponse{Level: m.Level, FromSeq: m.FromSeq, ToSeq: m.ToSeq, FromTime: m.FromTime,
			ToTime: m.ToTime, Content: m.Content, Tokens: m.Tokens, CreatedAt: m.CreatedAt,
			Producer: m.Producer, Stale: m.Stale}
	}
	return out
}

// summaryStore is the store's optional summary ability.
func (s *Server) summaryStore() (memory.SummaryStore, error) {
	ss, ok := s.deps.Store.(memory.SummaryStore)
	if !ok {
		return nil, echo.NewHTTPError(http.StatusNotImplemented, "this storage backend keeps no summaries")
	}
	return ss, nil
}

// listSummaries returns a conversation's summaries, level by level, each
// level in seq order.
func (s *Server) listSummaries(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	ss, err := s.summaryStore()
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	// Summaries of an unknown conversation would be an empty list: say 404.
	if _, err := s.store.GetConversation(ctx, tenant(c), id); err != nil {
		return conversationErr(err, id)
	}
	sums, err := ss.Summaries(ctx, tenant(c), id)
	if err != nil {
		return conversationErr(err, id)
	}
	return c.JSON(http.StatusOK, summariesResponse{Summaries: newSummaryResponses(sums)})
}

// compactResponse is the answer of POST …/compact.
type compactResponse struct {
	// Written are the summaries this call wrote.
	Written []summaryResponse `json:"written"`
	Rebuilt int               `json:"rebuilt"`
	// LagBefore counts the turns older than the recent window that no
	// level-0 summary covered before the call.
	LagBefore int `json:"lag_before"`
	// Summaries are all of the conversation's summaries after the call.
	Summaries []summaryResponse `json:"summaries"`
}

// compact runs compaction of one conversation now and answers when every
// turn older than the recent window is covered.
func (s *Server) compact(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	ss, err := s.summaryStore()
	if err != nil {
		return err
	}
	if s.deps.Compactor == nil {
		return echo.NewHTTPError(http.StatusNotImplemented, "compaction is not running in this server")
	}
	ctx := c.Request().Context()
	res, err := s.deps.Compactor.CompactNow(ctx, tenant(c), id)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return err
		}
		return conversationErr(err, id)
	}
	sums, err := ss.Summaries(ctx, tenant(c), id)
	if err != nil {
		return conversationErr(err, id)
	}
	return c.JSON(http.StatusOK, compactResponse{Written: newSummaryResponses(res.Written), Rebuilt: res.Rebuilt,
		LagBefore: res.LagBefore, Summaries: newSummaryResponses(sums)})
}

var _ Compactor = (*compaction.Worker)(nil)
