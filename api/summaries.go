package api

import (
	"context"
	"errors"
	"fmt"
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
	// Reason says why the call wrote nothing (omitted when it wrote some).
	Reason string `json:"reason,omitempty"`
}

// nothingWrittenReason says why a compaction that wrote nothing had
// nothing to write, from the conversation's last seq and its summaries
// (after the call: every turn older than the recent window is covered).
// Pure.
func nothingWrittenReason(lastSeq int64, sums []memory.Summary) string {
	var covered int64
	for _, sm := range sums {
		if sm.Level == 0 && !sm.Stale {
			covered = max(covered, sm.ToSeq)
		}
	}
	const window = "the recent window (the last compaction.keep_recent_turns turns, 100 by default), which is sent verbatim and never summarised"
	switch {
	case lastSeq == 0:
		return "nothing to summarise: the conversation has no turns yet"
	case covered == 0:
		return fmt.Sprintf("nothing to summarise yet: all of the conversation's turns (up to seq %d) are in %s; summaries start once turns leave it", lastSeq, window)
	default:
		return fmt.Sprintf("nothing new to summarise: turns 1–%d are summarised already, and turns after %d (up to seq %d) are in %s", covered, covered, lastSeq, window)
	}
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
	resp := compactResponse{Written: newSummaryResponses(res.Written), Rebuilt: res.Rebuilt,
		LagBefore: res.LagBefore, Summaries: newSummaryResponses(sums)}
	if len(res.Written) == 0 {
		conv, err := s.store.GetConversation(ctx, tenant(c), id)
		if err != nil {
			return conversationErr(err, id)
		}
		resp.Reason = nothingWrittenReason(conv.LastSeq, sums)
	}
	return c.JSON(http.StatusOK, resp)
}

var _ Compactor = (*compaction.Worker)(nil)
