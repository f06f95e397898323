package redisstore

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/redis/go-redis/v9"

	"github.com/longmem/longmem/memory"
)

// unavailableReplies are the error replies of a server that cannot serve
// now but may soon: loading its dataset, running a long script, refusing
// writes after a failed save or over maxmemory, a cluster without quorum.
var unavailableReplies = []string{"LOADING", "BUSY", "MISCONF", "OOM", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN", "READONLY", "NOREPLICAS"}

// Translate is this package's edge for go-redis errors: the ones that say
// the server cannot be reached or cannot serve now (connection refused or
// reset, a read timeout, a closed client or an empty pool, one of the
// replies above) are wrapped with memory.ErrUnavailable; the caller's own
// cancellation or deadline and every other error come back as they are.
// Other stores on the same Redis (the bots store, the compaction queue)
// call it too, so that one outage reads the same everywhere.
func Translate(err error) error {
	if err == nil || errors.Is(err, memory.ErrUnavailable) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if isUnavailable(err) {
		return memory.Unavailable(err)
	}
	return err
}

func isUnavailable(err error) bool {
	for _, p := range unavailableReplies {
		if redis.HasErrorPrefix(err, p) {
			return true
		}
	}
	var ne net.Error
	switch {
	case errors.As(err, &ne), // dial errors, i/o timeouts
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, redis.ErrClosed), errors.Is(err, redis.ErrPoolTimeout):
		return true
	}
	return false
}
