// Package redisqueue is a compaction.Queue on a Redis Stream with a
// consumer group, for several longmem nodes on one Redis: each task goes to
// one worker, is acknowledged when done, and is reclaimed (XAUTOCLAIM) from
// a worker that died holding it.
//
// # Keys
//
// P is Config.Prefix (default "longmem:compaction"); every key carries the
// hash tag {P}, so all of them live in one Redis Cluster slot:
//
//	{P}:tasks               stream: fields tenant, conv, attempt
//	{P}:queued:<tenant>/<id> string with a TTL: a task for this conversation
//	                         is waiting (tenant and id percent-encoded)
//
// Push adds a task only when none is waiting for the conversation (one Lua
// script: SET NX, then XADD). A worker that takes a task deletes the
// marker, so an append during the run queues a new task.
//
// # Delivery
//
// Next first reclaims, with XAUTOCLAIM, a task another consumer has held
// for longer than IdleTimeout without a sign of life, then reads new ones
// with XREADGROUP. While a worker holds a task, a heartbeat resets the
// task's idle time every IdleTimeout/3 (only while it still owns it), so a
// slow run is not taken from a live worker; a worker that dies stops the
// heartbeat and its task is reclaimed IdleTimeout later. Ack removes the
// task (XACK and XDEL). A task may thus run twice — a worker thought dead,
// or one that dies after writing but before Ack — which is safe because
// compaction writes each summary with AddSummary, atomic with its chain
// check.
package redisqueue

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/longmem/longmem/compaction"
	"github.com/longmem/longmem/memory/redisstore"
)

// Config of the queue. The zero value works.
type Config struct {
	// Prefix starts every key (default "longmem:compaction"); it must not
	// contain '{' or '}'.
	Prefix string `yaml:"prefix" json:"prefix,omitempty"`
	// Group is the consumer group every node joins (default "compaction").
	Group string `yaml:"group" json:"group,omitempty"`
	// Consumer names this node in the group (default
	// "<hostname>-<pid>-<random>"); it must be unique among live nodes.
	Consumer string `yaml:"consumer" json:"consumer,omitempty"`
	// IdleTimeout is how long a task may go without a heartbeat before
	// another node reclaims it (default 60s).
	IdleTimeout time.Duration `yaml:"idle_timeout" json:"idle_timeout,omitempty"`
	// Block is how long one XREADGROUP waits for a task (default 1s). It
	// bounds how late a stopping worker notices and how often an idle node
	// looks for tasks to reclaim.
	Block time.Duration `yaml:"block" json:"block,omitempty"`
	// MaxLen caps the stream, approximately (default 100000 tasks).
	MaxLen int64 `yaml:"max_len" json:"max_len,omitempty"`
	// QueuedTTL bounds how long a waiting task blocks new tasks for its
	// conversation, should it be lost (default 10m).
	QueuedTTL time.Duration `yaml:"queued_ttl" json:"queued_ttl,omitempty"`
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if strings.ContainsAny(c.Prefix, "{}") {
		return fmt.Errorf("redisqueue: prefix %q must not contain '{' or '}'", c.Prefix)
	}
	if c.IdleTimeout < 0 || c.Block < 0 || c.MaxLen < 0 || c.QueuedTTL < 0 {
		return errors.New("redisqueue: idle_timeout, block, max_len and queued_ttl must not be negative")
	}
	if c.IdleTimeout > 0 && c.IdleTimeout < 10*time.Millisecond {
		return errors.New("redisqueue: idle_timeout must be at least 10ms")
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.Prefix == "" {
		c.Prefix = "longmem:compaction"
	}
	if c.Group == "" {
		c.Group = "compaction"
	}
	if c.Consumer == "" {
		host, _ := os.Hostname()
		var b [4]byte
		_, _ = rand.Read(b[:])
		c.Consumer = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = 60 * time.Second
	}
	if c.Block == 0 {
		c.Block = time.Second
	}
	if c.MaxLen == 0 {
		c.MaxLen = 100000
	}
	if c.QueuedTTL == 0 {
		c.QueuedTTL = 10 * time.Minute
	}
	return c
}

// Queue is the Redis Streams compaction.Queue. Safe for concurrent use.
type Queue struct {
	rdb    redis.UniversalClient
	cfg    Config
	stream string

	mu    sync.Mutex
	group bool // the consumer group is known to exist
}

var _ compaction.Queue = (*Queue)(nil)

// New returns a queue on rdb (a single server or a cluster client). It
// does no I/O; the stream and group are created on first use.
func New(rdb redis.UniversalClient, cfg Config) (*Queue, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	return &Queue{rdb: rdb, cfg: cfg, stream: "{" + cfg.Prefix + "}:tasks"}, nil
}

// Stream returns the stream's key.
func (q *Queue) Stream() string { return q.stream }

// Group returns the consumer group's name.
func (q *Queue) Group() string { return q.cfg.Group }

// Consumer returns this node's name in the group.
func (q *Queue) Consumer() string { return q.cfg.Consumer }

func (q *Queue) queuedKey(t compaction.Task) string {
	return "{" + q.cfg.Prefix + "}:queued:" + url.PathEscape(t.Tenant) + "/" + url.PathEscape(t.Conversation)
}

var pushScript = redis.NewScript(`
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[4]) then
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[5], '*', 'tenant', ARGV[1], 'conv', ARGV[2], 'attempt', ARGV[3])
  return 1
end
return 0`)

// Push implements compaction.Queue: it adds t unless a task for the same
// conversation is waiting.
func (q *Queue) Push(ctx context.Context, t compaction.Task) error {
	err := pushScript.Run(ctx, q.rdb, []string{q.stream, q.queuedKey(t)},
		t.Tenant, t.Conversation, t.Attempt, q.cfg.QueuedTTL.Milliseconds(), q.cfg.MaxLen).Err()
	if err != nil {
		return fmt.Errorf("redisqueue: push %s: %w", t.Conversation, redisstore.Translate(err))
	}
	return nil
}

// ensureGroup creates the stream and the consumer group once.
func (q *Queue) ensureGroup(ctx context.Context) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.group {
		return nil
	}
	err := q.rdb.XGroupCreateMkStream(ctx, q.stream, q.cfg.Group, "0").Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return fmt.Errorf("redisqueue: create group %s: %w", q.cfg.Group, redisstore.Translate(err))
	}
	q.group = true
	return nil
}

// Next implements compaction.Queue: a task reclaimed from a dead consumer
// if there is one, else the next new task.
func (q *Queue) Next(ctx context.Context) (compaction.Delivery, error) {
	if err := q.ensureGroup(ctx); err != nil {
		return nil, err
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		msgs, _, err := q.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{Stream: q.stream, Group: q.cfg.Group,
			MinIdle: q.cfg.IdleTimeout, Start: "0-0", Count: 1, Consumer: q.cfg.Consumer}).Result()
		if err != nil {
			return nil, q.fail(ctx, "reclaim", err)
		}
		if len(msgs) == 0 {
			streams, err := q.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: q.cfg.Group, Consumer: q.cfg.Consumer,
				Streams: []string{q.stream, ">"}, Count: 1, Block: q.cfg.Block}).Result()
			if errors.Is(err, redis.Nil) {
				continue
			}
			if err != nil {
				return nil, q.fail(ctx, "read", err)
			}
			for _, s := range streams {
				msgs = append(msgs, s.Messages...)
			}
			if len(msgs) == 0 {
				continue
			}
			if err := q.rdb.Del(ctx, q.queuedKey(taskOf(msgs[0]))).Err(); err != nil {
				return nil, q.fail(ctx, "unmark", err)
			}
		}
		m := msgs[0]
		t, ok := parse(m)
		if !ok { // not a task of ours: drop it
			if err := q.remove(ctx, m.ID); err != nil {
				return nil, q.fail(ctx, "drop malformed", err)
			}
			continue
		}
		return q.deliver(ctx, m.ID, t), nil
	}
}

func (q *Queue) fail(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if strings.HasPrefix(err.Error(), "NOGROUP") { // the stream was deleted: recreate on the next call
		q.mu.Lock()
		q.group = false
		q.mu.Unlock()
	}
	return fmt.Errorf("redisqueue: %s: %w", op, redisstore.Translate(err))
}

func taskOf(m redis.XMessage) compaction.Task {
	t, _ := parse(m)
	return t
}

func parse(m redis.XMessage) (compaction.Task, bool) {
	tenant, ok1 := m.Values["tenant"].(string)
	conv, ok2 := m.Values["conv"].(string)
	attempt, _ := m.Values["attempt"].(string)
	n, err := strconv.Atoi(attempt)
	if !ok1 || !ok2 || conv == "" || err != nil {
		return compaction.Task{Tenant: tenant, Conversation: conv}, false
	}
	return compaction.Task{Tenant: tenant, Conversation: conv, Attempt: n}, true
}

// remove acknowledges and deletes one entry.
func (q *Queue) remove(ctx context.Context, id string) error {
	pipe := q.rdb.TxPipeline()
	pipe.XAck(ctx, q.stream, q.cfg.Group, id)
	pipe.XDel(ctx, q.stream, id)
	_, err := pipe.Exec(ctx)
	return err
}

// heartbeatScript resets a pending entry's idle time if this consumer still
// owns it.
var heartbeatScript = redis.NewScript(`
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1, ARGV[2])
if #p == 0 then return 0 end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'JUSTID')
return 1`)

// deliver hands a task out and starts its heartbeat, which ends with Ack,
// Abandon, the loss of the task, or ctx.
func (q *Queue) deliver(ctx context.Context, id string, t compaction.Task) *delivery {
	d := &delivery{q: q, id: id, task: t, stop: make(chan struct{}), done: make(chan struct{})}
	go d.heartbeat(ctx)
	return d
}

type delivery struct {
	q    *Queue
	id   string
	task compaction.Task
	once sync.Once
	stop chan struct{}
	done chan struct{}
}

func (d *delivery) heartbeat(ctx context.Context) {
	defer close(d.done)
	tick := time.NewTicker(d.q.cfg.IdleTimeout / 3)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.stop:
			return
		case <-tick.C:
			mine, err := heartbeatScript.Run(ctx, d.q.rdb, []string{d.q.stream}, d.q.cfg.Group, d.q.cfg.Consumer, d.id).Int()
			if err == nil && mine == 0 {
				return // reclaimed by another node: it runs the task too, harmlessly
			}
		}
	}
}

func (d *delivery) release() {
	d.once.Do(func() { close(d.stop) })
	<-d.done
}

// Task implements compaction.Delivery.
func (d *delivery) Task() compaction.Task { return d.task }

// Ack implements compaction.Delivery: the task is removed from the stream.
func (d *delivery) Ack(ctx context.Context) error {
	d.release()
	if err := d.q.remove(ctx, d.id); err != nil {
		return fmt.Errorf("redisqueue: ack %s: %w", d.id, redisstore.Translate(err))
	}
	return nil
}

// Abandon implements compaction.Delivery: the heartbeat stops and the task
// stays pending, for another consumer to reclaim after IdleTimeout.
func (d *delivery) Abandon() { d.release() }
