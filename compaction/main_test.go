package compaction

import (
	"testing"

	"go.uber.org/goleak"
)

// A go-redis pool whose server was killed (the outage tests) keeps one
// redial goroutine asleep for up to a second after the client closes.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/redis/go-redis/v9/internal/pool.(*ConnPool).tryDial"))
}
