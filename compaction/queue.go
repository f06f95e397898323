package compaction

import (
	"context"
	"sync"
)

// Task asks for one conversation to be compacted.
type Task struct {
	Tenant       string `json:"tenant"`
	Conversation string `json:"conversation"`
	// Attempt counts the failed runs before this one (0 for a fresh task);
	// it drives the backoff of the next failure.
	Attempt int `json:"attempt,omitempty"`
}

// key identifies a task's conversation.
func (t Task) key() convKey { return convKey{t.Tenant, t.Conversation} }

type convKey struct{ tenant, conv string }

// Queue distributes tasks among workers: the in-process MemQueue (one
// node) or a shared one such as compaction/redisqueue (several nodes, each
// task done once). Implementations are safe for concurrent use.
type Queue interface {
	// Push enqueues t. A task for a conversation that already has one
	// waiting may be dropped: the waiting one covers it.
	Push(ctx context.Context, t Task) error
	// Next blocks until a task is available and hands it to the caller, or
	// returns ctx's error when ctx ends.
	Next(ctx context.Context) (Delivery, error)
}

// Delivery is a task handed to one worker. The worker calls exactly one of
// Ack or Abandon.
type Delivery interface {
	Task() Task
	// Ack marks the task done: it is not delivered again.
	Ack(ctx context.Context) error
	// Abandon gives the task up without finishing it (the worker is
	// stopping): a shared queue delivers it again to another worker after
	// its idle timeout.
	Abandon()
}

// MemQueue is the in-process Queue of a single node: FIFO, one waiting
// task per conversation, lost on exit (the timer and the next append
// re-create the work). The zero value is not usable; call NewMemQueue.
type MemQueue struct {
	mu      sync.Mutex
	waiting []Task
	queued  map[convKey]bool
	signal  chan struct{} // capacity 1: "waiting is not empty"
}

var _ Queue = (*MemQueue)(nil)

// NewMemQueue returns an empty in-process queue.
func NewMemQueue() *MemQueue {
	return &MemQueue{queued: map[convKey]bool{}, signal: make(chan struct{}, 1)}
}

// Push implements Queue; it never blocks.
func (q *MemQueue) Push(_ context.Context, t Task) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.queued[t.key()] {
		return nil
	}
	q.queued[t.key()] = true
	q.waiting = append(q.waiting, t)
	select {
	case q.signal <- struct{}{}:
	default:
	}
	return nil
}

// Next implements Queue.
func (q *MemQueue) Next(ctx context.Context) (Delivery, error) {
	for {
		q.mu.Lock()
		if len(q.waiting) > 0 {
			t := q.waiting[0]
			q.waiting[0] = Task{}
			q.waiting = q.waiting[1:]
			delete(q.queued, t.key())
			more := len(q.waiting) > 0
			q.mu.Unlock()
			if more {
				select { // pass the signal on to another consumer
				case q.signal <- struct{}{}:
				default:
				}
			}
			return memDelivery{t}, nil
		}
		q.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-q.signal:
		}
	}
}

// Len returns the number of waiting tasks.
func (q *MemQueue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.waiting)
}

type memDelivery struct{ t Task }

func (d memDelivery) Task() Task                { return d.t }
func (d memDelivery) Ack(context.Context) error { return nil }
func (d memDelivery) Abandon()                  {}
