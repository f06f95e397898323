// Package embedded is the default memory.Store: a single bbolt file in a data
// directory, durable on return (fsync per commit), with concurrent appends
// group-committed into one transaction.
//
// Layout (bbolt buckets):
//
//	conv  / tenant 0x00 id            → Conversation JSON (with LastSeq)
//	turns / tenant 0x00 id / seq(BE8) → Turn JSON
//	idem  / tenant 0x00 id / key      → idemRecord JSON (hash, seqs, time)
//	sums  / tenant 0x00 id / level(BE4) from_seq(BE8) → Summary JSON (with Stale)
//
// Key order in a sums bucket is (Level, FromSeq) order: the last key of a
// level is the tail of its chain (AddSummary), and the summaries holding a
// seq are found with one seek per level (DeleteTurn marks them stale in the
// transaction that deletes the turn).
//
// One writer goroutine owns every write transaction. Requests queue on a
// channel; each commit takes everything queued while the previous commit was
// syncing, so N concurrent appends cost about one fsync, and a lone writer
// waits for no timer. Each request checks its preconditions before it writes
// anything, so one failing request never spoils its batch.
package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/longmem/longmem/memory"
)

var (
	bucketConv  = []byte("conv")
	bucketTurns = []byte("turns")
	bucketIdem  = []byte("idem")
	// bucketProbe holds the one record Ping writes after a failed commit.
	bucketProbe = []byte("probe")
)

// probeBytes is the size of Ping's probe record: a turn's default maximum,
// so that a probe that fits says an ordinary append fits too.
const probeBytes = 64 << 10

// Config of the embedded store. The zero value stores in ./longmem-data.
type Config struct {
	// Dir is the data directory, created when missing (default "longmem-data").
	Dir string
	// IdempotencyTTL is how long idempotency keys are kept at least
	// (default memory.DefaultIdempotencyTTL). Expired keys are purged hourly.
	IdempotencyTTL time.Duration
	// MaxBatch bounds the requests one commit takes (default 512).
	MaxBatch int
	// Clock stamps turns and conversations that carry no time (default time.Now).
	Clock  func() time.Time
	Logger *slog.Logger
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if c.IdempotencyTTL < 0 {
		return errors.New("embedded: idempotency TTL must not be negative")
	}
	if c.MaxBatch < 0 {
		return errors.New("embedded: max batch must not be negative")
	}
	return nil
}

func (c *Config) defaults() {
	if c.Dir == "" {
		c.Dir = "longmem-data"
	}
	if c.IdempotencyTTL == 0 {
		c.IdempotencyTTL = memory.DefaultIdempotencyTTL
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = 512
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Store is the bbolt-backed memory.Store.
type Store struct {
	cfg    Config
	db     *bolt.DB
	reqs   chan *writeReq
	stop   chan struct{}
	done   chan struct{}
	closed sync.Once
	sums   *sumCache
	// writeErr is the storage error of the last commit, nil after a
	// commit that succeeded (see Ping).
	writeErr atomic.Pointer[error]
}

var _ memory.Store = (*Store)(nil)

// writeReq is one unit of a group commit. fn must check everything that can
// fail for a domain reason before its first write.
type writeReq struct {
	fn   func(tx *bolt.Tx) error
	done chan error
}

// OpenDB opens (creating the directory and the file when missing) the
// bbolt file dir/file with the given top-level buckets, as every embedded
// store of longmem does: a clear error when another process holds it, no
// freelist sync. The bots store keeps its own file beside this store's.
func OpenDB(dir, file string, buckets ...[]byte) (*bolt.DB, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	path := filepath.Join(dir, file)
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:        2 * time.Second, // another process holds the file lock
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
	})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("open %s: %w: another process (a running longmem serve?) holds it; stop it or use another data directory", path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range buckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("init %s: %w", path, err)
	}
	return db, nil
}

// Open opens (creating when missing) the store in cfg.Dir and starts its
// writer. Close stops it.
func Open(cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.defaults()
	db, err := OpenDB(cfg.Dir, "longmem.db", bucketConv, bucketTurns, bucketIdem, bucketSums, bucketProbe)
	if err != nil {
		return nil, fmt.Errorf("embedded: %w", err)
	}
	s := &Store{cfg: cfg, db: db, reqs: make(chan *writeReq, 4*cfg.MaxBatch), stop: make(chan struct{}), done: make(chan struct{}),
		sums: newSumCache()}
	go s.writer()
	return s, nil
}

// Close waits for queued writes, stops the writer and closes the file.
func (s *Store) Close() error {
	var err error
	s.closed.Do(func() {
		close(s.stop)
		<-s.done
		err = s.db.Close()
	})
	return err
}

// Ping checks the file can be read and, when the last commit failed for a
// storage reason (a full disk), that a probe record of probeBytes can be
// written now: until one can, Ping fails with memory.ErrUnavailable.
func (s *Store) Ping(ctx context.Context) error {
	select {
	case <-s.stop:
		return errClosed
	default:
	}
	if err := s.db.View(func(tx *bolt.Tx) error { return nil }); err != nil {
		return Translate(fmt.Errorf("embedded: ping: %w", err))
	}
	if s.writeErr.Load() == nil {
		return nil
	}
	probe := make([]byte, probeBytes)
	return s.write(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketProbe).Put([]byte("probe"), probe)
	})
}

var errClosed = memory.Unavailable(errors.New("embedded: store closed"))

// Translate is this package's edge for storage errors: an operating
// system error (no space left, I/O error, read-only file system …) or a
// closed database means the store cannot serve now, memory.ErrUnavailable;
// other errors come back as they are. Other bbolt files of longmem (the
// bots store, opened with OpenDB) can use it for the same meaning.
func Translate(err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) || errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return memory.Unavailable(err)
	}
	return err
}

// write queues fn for the next group commit and waits until it is durable.
func (s *Store) write(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	r := &writeReq{fn: fn, done: make(chan error, 1)}
	select {
	case s.reqs <- r:
	case <-s.stop:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once queued the request commits or fails; wait for it even if ctx
	// ends, so a caller never reports failure for a durable write.
	select {
	case err := <-r.done:
		return err
	case <-s.done:
		// The writer has exited. With Close racing this call (or after it:
		// the select above may pick the buffered send over s.stop), r may
		// have been queued after the writer's last drain. Every request
		// the writer took has its result in r.done before s.done closes.
		select {
		case err := <-r.done:
			return err
		default:
			return errClosed
		}
	}
}

func (s *Store) writer() {
	defer close(s.done)
	purge := time.NewTicker(time.Hour)
	defer purge.Stop()
	batch := make([]*writeReq, 0, s.cfg.MaxBatch)
	for {
		batch = batch[:0]
		select {
		case r := <-s.reqs:
			batch = append(batch, r)
		case <-purge.C:
			s.purgeExpired()
			continue
		case <-s.stop:
			// Drain what was queued before Close.
			for {
				select {
				case r := <-s.reqs:
					s.commit([]*writeReq{r})
				default:
					return
				}
			}
		}
	fill:
		for len(batch) < s.cfg.MaxBatch {
			select {
			case r := <-s.reqs:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		s.commit(batch)
	}
}

// commit runs the batch in one transaction. Domain errors of one request
// don't touch the others (requests check before writing); a storage error
// aborts the transaction, and then each request is retried alone.
func (s *Store) commit(batch []*writeReq) {
	results := make([]error, len(batch))
	var fatal error
	err := s.db.Update(func(tx *bolt.Tx) error {
		for i, r := range batch {
			results[i] = r.fn(tx)
			if results[i] != nil && !isDomain(results[i]) {
				fatal = results[i]
				return fatal
			}
		}
		return nil
	})
	if err != nil && len(batch) > 1 {
		for _, r := range batch {
			s.commit([]*writeReq{r})
		}
		return
	}
	switch {
	case err == nil:
		s.writeErr.Store(nil)
	default:
		err = Translate(fmt.Errorf("embedded: commit: %w", err))
		if errors.Is(err, memory.ErrUnavailable) {
			s.writeErr.Store(&err)
		}
	}
	for i, r := range batch {
		if err != nil {
			r.done <- err
			continue
		}
		r.done <- results[i]
	}
}

func isDomain(err error) bool {
	return errors.Is(err, memory.ErrNotFound) || errors.Is(err, memory.ErrConflict) || errors.Is(err, memory.ErrInvalid)
}

func convKey(tenant, id string) []byte {
	k := make([]byte, 0, len(tenant)+1+len(id))
	k = append(k, tenant...)
	k = append(k, 0)
	return append(k, id...)
}

func seqKey(seq int64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], uint64(seq))
	return k[:]
}

func notFound(what, id string) error {
	return fmt.Errorf("embedded: %s %q: %w", what, id, memory.ErrNotFound)
}

func getConv(tx *bolt.Tx, key []byte, id string) (memory.Conversation, error) {
	raw := tx.Bucket(bucketConv).Get(key)
	if raw == nil {
		return memory.Conversation{}, notFound("conversation", id)
	}
	var c memory.Conversation
	if err := json.Unmarshal(raw, &c); err != nil {
		return c, fmt.Errorf("embedded: decode conversation %q: %w", id, err)
	}
	return c, nil
}

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, raw)
}

// CreateConversation implements memory.Store.
func (s *Store) CreateConversation(ctx context.Context, c memory.Conversation) (memory.Conversation, error) {
	if c.ID == "" {
		return c, memory.Invalid("id", "must not be empty")
	}
	if c.CreatedAt.IsZero() {
		c.CreatedAt = s.cfg.Clock()
	}
	c.CreatedAt = c.CreatedAt.UTC()
	c.LastSeq = 0
	key := convKey(c.Tenant, c.ID)
	err := s.write(ctx, func(tx *bolt.Tx) error {
		if tx.Bucket(bucketConv).Get(key) != nil {
			return fmt.Errorf("embedded: conversation %q exists: %w", c.ID, memory.ErrConflict)
		}
		return putJSON(tx.Bucket(bucketConv), key, c)
	})
	return c, err
}

// GetConversation implements memory.Store.
func (s *Store) GetConversation(ctx context.Context, tenant, id string) (memory.Conversation, error) {
	var c memory.Conversation
	err := s.db.View(func(tx *bolt.Tx) (err error) {
		c, err = getConv(tx, convKey(tenant, id), id)
		return err
	})
	return c, err
}

// ListConversations implements memory.Store. Filters scan the tenant's
// conversations in id order: cost grows with the ids skipped.
func (s *Store) ListConversations(ctx context.Context, opts memory.ListOptions) ([]memory.Conversation, error) {
	limit := memory.NormalizeListLimit(opts.Limit)
	prefix := convKey(opts.Tenant, "")
	start := convKey(opts.Tenant, opts.After)
	var out []memory.Conversation
	err := s.db.View(func(tx *bolt.Tx) error {
		cur := tx.Bucket(bucketConv).Cursor()
		k, v := cur.Seek(start)
		if opts.After != "" && bytes.Equal(k, start) {
			k, v = cur.Next()
		}
		for ; k != nil && bytes.HasPrefix(k, prefix) && len(out) < limit; k, v = cur.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			var c memory.Conversation
			if err := json.Unmarshal(v, &c); err != nil {
				return fmt.Errorf("embedded: decode conversation %q: %w", k[len(prefix):], err)
			}
			if (opts.UserID == "" || c.UserID == opts.UserID) && (opts.BotID == "" || c.BotID == opts.BotID) {
				out = append(out, c)
			}
		}
		return nil
	})
	return out, err
}

// DeleteConversation implements memory.Store.
func (s *Store) DeleteConversation(ctx context.Context, tenant, id string) error {
	key := convKey(tenant, id)
	defer s.sums.bump(string(key))
	return s.write(ctx, func(tx *bolt.Tx) error {
		if tx.Bucket(bucketConv).Get(key) == nil {
			return notFound("conversation", id)
		}
		for _, name := range [][]byte{bucketTurns, bucketIdem, bucketSums} {
			if err := tx.Bucket(name).DeleteBucket(key); err != nil && !errors.Is(err, berrors.ErrBucketNotFound) {
				return err
			}
		}
		return tx.Bucket(bucketConv).Delete(key)
	})
}

type idemRecord struct {
	Hash string    `json:"hash"`
	Seqs []int64   `json:"seqs"`
	At   time.Time `json:"at"`
}

// AppendTurns implements memory.Store.
func (s *Store) AppendTurns(ctx context.Context, tenant, id string, turns []memory.Turn, opts memory.AppendOptions) ([]memory.Turn, error) {
	if err := memory.ValidateTurns(turns); err != nil {
		return nil, err
	}
	now := s.cfg.Clock().UTC()
	key := convKey(tenant, id)
	idemKey := []byte(opts.IdempotencyKey)
	var out []memory.Turn
	err := s.write(ctx, func(tx *bolt.Tx) error {
		out = nil
		c, err := getConv(tx, key, id)
		if err != nil {
			return err
		}
		if len(idemKey) > 0 {
			if ib := tx.Bucket(bucketIdem).Bucket(key); ib != nil {
				if raw := ib.Get(idemKey); raw != nil {
					var rec idemRecord
					if err := json.Unmarshal(raw, &rec); err != nil {
						return fmt.Errorf("embedded: decode idempotency record: %w", err)
					}
					if now.Sub(rec.At) < s.cfg.IdempotencyTTL {
						if rec.Hash != opts.RequestHash {
							return fmt.Errorf("embedded: idempotency key %q was used with a different request: %w", opts.IdempotencyKey, memory.ErrConflict)
						}
						out, err = readSeqs(tx, key, id, rec.Seqs)
						return err
					}
				}
			}
		}
		// Checks done; writes follow.
		tb, err := tx.Bucket(bucketTurns).CreateBucketIfNotExists(key)
		if err != nil {
			return err
		}
		out = make([]memory.Turn, len(turns))
		seqs := make([]int64, len(turns))
		for i, t := range turns {
			c.LastSeq++
			t.ConversationID = id
			t.Seq = c.LastSeq
			if t.CreatedAt.IsZero() {
				t.CreatedAt = now
			}
			t.CreatedAt = t.CreatedAt.UTC()
			if err := putJSON(tb, seqKey(t.Seq), t); err != nil {
				return err
			}
			out[i], seqs[i] = t, t.Seq
		}
		if err := putJSON(tx.Bucket(bucketConv), key, c); err != nil {
			return err
		}
		if len(idemKey) > 0 {
			ib, err := tx.Bucket(bucketIdem).CreateBucketIfNotExists(key)
			if err != nil {
				return err
			}
			return putJSON(ib, idemKey, idemRecord{Hash: opts.RequestHash, Seqs: seqs, At: now})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// readSeqs returns the turns of an earlier append; a turn forgotten since is
// left out.
func readSeqs(tx *bolt.Tx, key []byte, id string, seqs []int64) ([]memory.Turn, error) {
	tb := tx.Bucket(bucketTurns).Bucket(key)
	out := make([]memory.Turn, 0, len(seqs))
	for _, seq := range seqs {
		if tb == nil {
			break
		}
		raw := tb.Get(seqKey(seq))
		if raw == nil {
			continue
		}
		t, err := decodeTurn(raw, id)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

func decodeTurn(raw []byte, id string) (memory.Turn, error) {
	var t memory.Turn
	if err := json.Unmarshal(raw, &t); err != nil {
		return t, fmt.Errorf("embedded: decode turn of %q: %w", id, err)
	}
	return t, nil
}

// viewTurns runs fn with the conversation's turn bucket (nil when it has
// no turns yet), after checking the conversation exists.
func (s *Store) viewTurns(tenant, id string, fn func(tb *bolt.Bucket) error) error {
	key := convKey(tenant, id)
	return s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketConv).Get(key) == nil {
			return notFound("conversation", id)
		}
		return fn(tx.Bucket(bucketTurns).Bucket(key))
	})
}

// Turns implements memory.Store.
func (s *Store) Turns(ctx context.Context, tenant, id string, afterSeq int64, limit int) ([]memory.Turn, error) {
	out := []memory.Turn{}
	err := s.viewTurns(tenant, id, func(tb *bolt.Bucket) error {
		if tb == nil {
			return nil
		}
		cur := tb.Cursor()
		k, v := cur.Seek(seqKey(max(afterSeq+1, 0)))
		for ; k != nil && (limit <= 0 || len(out) < limit); k, v = cur.Next() {
			t, err := decodeTurn(v, id)
			if err != nil {
				return err
			}
			out = append(out, t)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// LastTurns implements memory.Store.
func (s *Store) LastTurns(ctx context.Context, tenant, id string, n int) ([]memory.Turn, error) {
	out := []memory.Turn{}
	err := s.viewTurns(tenant, id, func(tb *bolt.Bucket) error {
		if tb == nil {
			return nil
		}
		cur := tb.Cursor()
		for k, v := cur.Last(); k != nil && len(out) < n; k, v = cur.Prev() {
			t, err := decodeTurn(v, id)
			if err != nil {
				return err
			}
			out = append(out, t)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

// GetTurn implements memory.Store.
func (s *Store) GetTurn(ctx context.Context, tenant, id string, seq int64) (memory.Turn, error) {
	var t memory.Turn
	err := s.viewTurns(tenant, id, func(tb *bolt.Bucket) error {
		if tb == nil || seq <= 0 {
			return notFound("turn", fmt.Sprint(seq))
		}
		raw := tb.Get(seqKey(seq))
		if raw == nil {
			return notFound("turn", fmt.Sprint(seq))
		}
		var err error
		t, err = decodeTurn(raw, id)
		return err
	})
	return t, err
}

// DeleteTurn implements memory.Store. In the same transaction it marks
// Stale every summary, at every level, whose range holds seq.
func (s *Store) DeleteTurn(ctx context.Context, tenant, id string, seq int64) error {
	key := convKey(tenant, id)
	defer s.sums.bump(string(key)) // covering summaries may turn stale
	return s.write(ctx, func(tx *bolt.Tx) error {
		if _, err := getConv(tx, key, id); err != nil {
			return err
		}
		tb := tx.Bucket(bucketTurns).Bucket(key)
		if tb == nil || seq <= 0 || tb.Get(seqKey(seq)) == nil {
			return notFound("turn", fmt.Sprint(seq))
		}
		sb := tx.Bucket(bucketSums).Bucket(key)
		keys, vals, err := staleMarks(sb, seq, id)
		if err != nil {
			return err
		}
		// Checks done; writes follow.
		if err := tb.Delete(seqKey(seq)); err != nil {
			return err
		}
		for i := range keys {
			if err := sb.Put(keys[i], vals[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// purgeExpired drops idempotency records older than the TTL. It runs on the
// writer goroutine between batches.
func (s *Store) purgeExpired() {
	cutoff := s.cfg.Clock().Add(-s.cfg.IdempotencyTTL)
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketIdem).ForEachBucket(func(conv []byte) error {
			b := tx.Bucket(bucketIdem).Bucket(conv)
			var stale [][]byte
			err := b.ForEach(func(k, v []byte) error {
				var rec idemRecord
				if json.Unmarshal(v, &rec) != nil || rec.At.Before(cutoff) {
					stale = append(stale, bytes.Clone(k))
				}
				return nil
			})
			if err != nil {
				return err
			}
			for _, k := range stale {
				if err := b.Delete(k); err != nil {
					return err
				}
			}
			n += len(stale)
			return nil
		})
	})
	if err != nil {
		s.cfg.Logger.Warn("purge idempotency keys", "err", err)
		return
	}
	if n > 0 {
		s.cfg.Logger.Debug("purged idempotency keys", "count", n)
	}
}
