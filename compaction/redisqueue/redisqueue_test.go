package redisqueue_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/longmem/longmem/compaction"
	"github.com/longmem/longmem/compaction/redisqueue"
	"github.com/longmem/longmem/memory/redisstore/redistest"
	"github.com/longmem/longmem/retrieval"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var tokenizer = sync.OnceValue(func() *retrieval.BPETokenizer {
	tok, err := retrieval.NewTokenizer(retrieval.TokenizerConfig{})
	if err != nil {
		panic(err)
	}
	return tok
})

func client(t *testing.T) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: redistest.StartServer(t)})
	t.Cleanup(func() { require.NoError(t, rdb.Close()) })
	return rdb
}

func newQueue(t *testing.T, rdb redis.UniversalClient, consumer string) *redisqueue.Queue {
	t.Helper()
	q, err := redisqueue.New(rdb, redisqueue.Config{Consumer: consumer, IdleTimeout: 200 * time.Millisecond, Block: 20 * time.Millisecond})
	require.NoError(t, err)
	return q
}

func TestConfigValidate(t *testing.T) {
	require.NoError(t, redisqueue.Config{}.Validate())
	require.Error(t, redisqueue.Config{Prefix: "a{b}"}.Validate())
	require.Error(t, redisqueue.Config{IdleTimeout: -time.Second}.Validate())
	require.Error(t, redisqueue.Config{IdleTimeout: time.Millisecond}.Validate())
}

func TestPushDedupesWaitingTasks(t *testing.T) {
	ctx := context.Background()
	rdb := client(t)
	q := newQueue(t, rdb, "a")
	task := compaction.Task{Tenant: "acme", Conversation: "c/1"}
	require.NoError(t, q.Push(ctx, task))
	require.NoError(t, q.Push(ctx, task), "a second push while one waits is dropped")
	require.NoError(t, q.Push(ctx, compaction.Task{Tenant: "other", Conversation: "c/1", Attempt: 2}))
	require.EqualValues(t, 2, rdb.XLen(ctx, q.Stream()).Val())

	d, err := q.Next(ctx)
	require.NoError(t, err)
	require.Equal(t, task, d.Task())
	require.NoError(t, q.Push(ctx, task), "once taken, a new push queues again")
	require.NoError(t, d.Ack(ctx))

	d, err = q.Next(ctx)
	require.NoError(t, err)
	require.Equal(t, compaction.Task{Tenant: "other", Conversation: "c/1", Attempt: 2}, d.Task())
	require.NoError(t, d.Ack(ctx))
	d, err = q.Next(ctx)
	require.NoError(t, err)
	require.Equal(t, task, d.Task())
	require.NoError(t, d.Ack(ctx))

	require.Zero(t, rdb.XLen(ctx, q.Stream()).Val(), "acked tasks are deleted")
	pending, err := rdb.XPending(ctx, q.Stream(), q.Group()).Result()
	require.NoError(t, err)
	require.Zero(t, pending.Count)
}

func TestNextStopsWithTheContext(t *testing.T) {
	rdb := client(t)
	q := newQueue(t, rdb, "a")
	ctx, cancel := context.WithCancel(context.Background())
	go cancel()
	_, err := q.Next(ctx)
	require.ErrorIs(t, err, context.Canceled)
}

func TestAbandonedTaskIsReclaimedByAnotherConsumer(t *testing.T) {
	ctx := context.Background()
	rdb := client(t)
	a, b := newQueue(t, rdb, "a"), newQueue(t, rdb, "b")
	task := compaction.Task{Tenant: "acme", Conversation: "c"}
	require.NoError(t, a.Push(ctx, task))
	d, err := a.Next(ctx)
	require.NoError(t, err)
	d.Abandon()

	d, err = b.Next(ctx) // waits until the task has been idle for 200ms
	require.NoError(t, err)
	require.Equal(t, task, d.Task())
	pending, err := rdb.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: b.Stream(), Group: b.Group(), Start: "-", End: "+", Count: 10}).Result()
	require.NoError(t, err)
	require.Len(t, pending, 1)
	require.Equal(t, "b", pending[0].Consumer)
	require.EqualValues(t, 2, pending[0].RetryCount)
	require.NoError(t, d.Ack(ctx))
	require.Zero(t, rdb.XLen(ctx, b.Stream()).Val())
}
