// Package redisstore is the Redis memory.Store (go-redis v9), on a single
// Redis server or on Redis Cluster (Redis 7 or later).
//
// # Key layout
//
// P is Config.KeyPrefix (default "lm"); T and I are the tenant and the
// conversation id, percent-encoded (every byte outside [A-Za-z0-9._~-],
// including '{', '}', '/' and ':'), so that the hash tag {T/I} is the same for
// every key of a conversation and two (tenant, id) pairs never share a key:
//
//	P:{T/I}:conv       hash: doc → Conversation JSON, seq → LastSeq
//	P:{T/I}:turns      sorted set: score seq, member the turn's JSON (with seq)
//	P:{T/I}:idem:K     hash: hash, first, n; expires after the idempotency TTL
//	P:{T/I}:idems      sorted set: idem record keys scored by expiry (ms)
//	P:{T/I}:sums       hash: summary name → Summary JSON (without Stale)
//	P:{T/I}:sums:order sorted set: summary names, score 0, read in byte order
//	P:{T/I}:sums:stale set: names of the stale summaries
//	P:{T/I}:sums:ver   hash: id → random token set at create, n → count of summary changes
//	P:tenant:{T}:convs sorted set: conversation ids, score 0, read with ZRANGEBYLEX
//
// A summary's name is "LLLLLLLLLL:FFFFFFFFFFFFFFFFFFF:TTTTTTTTTTTTTTTTTTT":
// its Level, FromSeq and ToSeq in decimal, zero-padded to 10, 19 and 19
// digits, so that byte order is (Level, FromSeq) order. The tail of a
// level's chain and the summary of a level holding a seq are each one
// ZRANGE BYLEX on sums:order, and a name carries the ToSeq the chain checks
// need, so no script decodes JSON.
//
// Summary cache: each Store keeps the decoded summaries of recently read
// conversations in process, under the version they were read at. Every
// script that changes summaries (add, replace, a forget marking some stale)
// increments sums:ver n in the same script, create sets a fresh random id
// and delete removes the key, so "id:n" names one state of a conversation's
// summaries, across nodes and across a delete and re-create of the same id.
// Summaries first reads the version (one small script); when the cache
// holds that version it returns a copy, else the full read returns the
// summaries and their version atomically and fills the cache.
// A conversation created before versions existed has no sums:ver until its
// next summary write, and is not cached until then. Nodes running a longmem
// without this cache write summaries without bumping the version: do not
// mix them with newer nodes on one Redis (a newer node could serve
// summaries they changed since), upgrade them together.
//
// All keys of a conversation live in one slot, and every read or write of a
// conversation is one Lua script on that slot: sequence assignment and
// idempotency are atomic in Redis, never read-then-write from Go. Writing
// scripts are not retried by the client after a network error (a retry could
// apply an append twice); callers retry with an idempotency key.
//
// The tenant index lives in another slot, so it is kept consistent by order:
// create writes the conversation, then adds the id; delete removes the
// conversation, then the id. Listing skips ids whose conversation is gone.
// ListConversations with a UserID or BotID filter scans the tenant's index
// in id order, in pages, and reads every scanned conversation: its cost grows
// with the conversations skipped, up to all of the tenant's.
//
// Durability: AppendTurns returns once Redis has executed the script. Whether
// the turns survive a crash of the server then depends on its persistence
// settings: for durability on ack run Redis with "appendonly yes" and
// "appendfsync always"; "appendfsync everysec" may lose the last second.
package redisstore

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/longmem/longmem/memory"
)

// Config of the Redis store. The zero value connects to a single Redis on
// 127.0.0.1:6379 and uses the key prefix "lm".
type Config struct {
	// Addrs are "host:port" of the server, or seed nodes of a cluster.
	// One address means a single server unless Cluster is set; several
	// mean a cluster. Default ["127.0.0.1:6379"].
	Addrs []string
	// Cluster selects Redis Cluster mode even with one seed address.
	Cluster bool
	// Username and Password authenticate (ACL or requirepass). The password
	// comes from the environment and is redacted by String.
	Username string
	Password string
	// DB selects the database of a single server; it must be 0 in cluster mode.
	DB int
	// KeyPrefix starts every key (default "lm"). It must not contain '{' or '}'.
	KeyPrefix string
	// IdempotencyTTL is how long idempotency keys are kept (default
	// memory.DefaultIdempotencyTTL); Redis expires them, at millisecond
	// precision.
	IdempotencyTTL time.Duration
	// PoolSize is the connection pool size per node (default: go-redis's,
	// 10 per CPU).
	PoolSize int
	// Clock stamps conversations and turns that carry no time (default time.Now).
	Clock func() time.Time
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	for i, a := range c.Addrs {
		if strings.TrimSpace(a) == "" {
			return fmt.Errorf("redisstore: addrs[%d] is empty", i)
		}
	}
	if c.DB < 0 {
		return errors.New("redisstore: db must not be negative")
	}
	if c.DB != 0 && c.clusterMode() {
		return errors.New("redisstore: db must be 0 in cluster mode")
	}
	if strings.ContainsAny(c.KeyPrefix, "{}") {
		return fmt.Errorf("redisstore: key prefix %q must not contain '{' or '}'", c.KeyPrefix)
	}
	if c.IdempotencyTTL < 0 {
		return errors.New("redisstore: idempotency TTL must not be negative")
	}
	if c.IdempotencyTTL > 0 && c.IdempotencyTTL < time.Millisecond {
		return errors.New("redisstore: idempotency TTL must be at least 1ms")
	}
	if c.PoolSize < 0 {
		return errors.New("redisstore: pool size must not be negative")
	}
	return nil
}

// String describes the config with the password redacted.
func (c Config) String() string {
	pw := ""
	if c.Password != "" {
		pw = "REDACTED"
	}
	return fmt.Sprintf("redisstore.Config{Addrs:%v Cluster:%t Username:%q Password:%q DB:%d KeyPrefix:%q IdempotencyTTL:%s PoolSize:%d}",
		c.Addrs, c.Cluster, c.Username, pw, c.DB, c.KeyPrefix, c.IdempotencyTTL, c.PoolSize)
}

func (c Config) clusterMode() bool { return c.Cluster || len(c.Addrs) > 1 }

// Options are the go-redis options of c's connection (defaults applied),
// for another store kept in the same Redis (the bots store) to open its
// own client with.
func (c Config) Options() *redis.UniversalOptions {
	c.defaults()
	return &redis.UniversalOptions{
		Addrs:                 c.Addrs,
		IsClusterMode:         c.Cluster,
		Username:              c.Username,
		Password:              c.Password,
		DB:                    c.DB,
		PoolSize:              c.PoolSize,
		ContextTimeoutEnabled: true,
	}
}

func (c *Config) defaults() {
	if len(c.Addrs) == 0 {
		c.Addrs = []string{"127.0.0.1:6379"}
	}
	if c.KeyPrefix == "" {
		c.KeyPrefix = "lm"
	}
	if c.IdempotencyTTL == 0 {
		c.IdempotencyTTL = memory.DefaultIdempotencyTTL
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
}

// Store is the Redis memory.Store. It is safe for concurrent use.
type Store struct {
	cfg       Config
	rdb       redis.UniversalClient
	sums      *sumCache
	closeOnce sync.Once
	closeErr  error
}

var _ memory.Store = (*Store)(nil)

// New connects to Redis (checking it answers PING) and returns the store.
// It writes nothing. Close releases the connections.
func New(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.defaults()
	rdb := redis.NewUniversalClient(cfg.Options())
	s := &Store{cfg: cfg, rdb: rdb, sums: newSumCache()}
	if err := s.ping(ctx); err != nil {
		_ = rdb.Close()
		return nil, fmt.Errorf("redisstore: connect %v: %w", cfg.Addrs, err)
	}
	return s, nil
}

// Client returns the store's Redis client, for other parts of the process
// that keep state in the same Redis (the compaction queue). The store
// keeps ownership: Close closes it.
func (s *Store) Client() redis.UniversalClient { return s.rdb }

// Close closes the connections. Calls after the first return its result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.rdb.Close() })
	return s.closeErr
}

// Ping checks the server (every master, in a cluster) answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.ping(ctx); err != nil {
		return fmt.Errorf("redisstore: ping: %w", Translate(err))
	}
	return nil
}

func (s *Store) ping(ctx context.Context) error {
	if cc, ok := s.rdb.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			return c.Ping(ctx).Err()
		})
	}
	return s.rdb.Ping(ctx).Err()
}

// ---- keys

// escape percent-encodes every byte outside [A-Za-z0-9._~-]. It keeps '{'
// and '}' out of hash tags and '/' and ':' out of key separators.
func escape(s string) string {
	const hexdig = "0123456789ABCDEF"
	n := 0
	for i := 0; i < len(s); i++ {
		if !unreserved(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hexdig[c>>4], hexdig[c&15])
	}
	return string(b)
}

func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// convKeys are the keys of one conversation; all share one hash tag.
type convKeys struct {
	base     string // P:{T/I}:
	conv     string
	turns    string
	idems    string
	sums     string
	sumOrder string
	sumStale string
	sumVer   string
}

func (s *Store) keys(tenant, id string) convKeys {
	base := s.cfg.KeyPrefix + ":{" + escape(tenant) + "/" + escape(id) + "}:"
	return convKeys{base: base, conv: base + "conv", turns: base + "turns", idems: base + "idems",
		sums: base + "sums", sumOrder: base + "sums:order", sumStale: base + "sums:stale", sumVer: base + "sums:ver"}
}

func (k convKeys) idem(key string) string { return k.base + "idem:" + escape(key) }

func (s *Store) tenantKey(tenant string) string {
	return s.cfg.KeyPrefix + ":tenant:{" + escape(tenant) + "}:convs"
}

// ---- scripts

// script is a Lua script and its SHA1, run with EVALSHA and, when the
// server's script cache lacks it, EVAL.
type script struct {
	src, sha string
	readOnly bool // "flags=no-writes": run with EVALSHA_RO, retried by the client
}

func newScript(src string) script {
	sum := sha1.Sum([]byte(src))
	return script{src: src, sha: hex.EncodeToString(sum[:]), readOnly: strings.HasPrefix(src, "#!lua flags=no-writes")}
}

// The scripts are immutable values.
var (
	scriptCreate     = newScript(srcCreate)
	scriptAppend     = newScript(srcAppend)
	scriptDeleteConv = newScript(srcDeleteConv)
	scriptDeleteTurn = newScript(srcDeleteTurn)
	scriptTurns      = newScript(srcTurns)
	scriptLastTurns  = newScript(srcLastTurns)
	scriptGetTurn    = newScript(srcGetTurn)
	scriptAddSum     = newScript(srcAddSummary)
	scriptReplaceSum = newScript(srcReplaceSummary)
	scriptSummaries  = newScript(srcSummaries)
	scriptSumVersion = newScript(srcSummaryVersion)
)

// noRetryCmd keeps go-redis from sending a command again after a network
// error, when the first send may have been executed.
type noRetryCmd struct{ *redis.Cmd }

func (noRetryCmd) NoRetry() bool { return true }

// run executes sc on the node owning keys[0]'s slot.
func (s *Store) run(ctx context.Context, sc script, keys []string, args ...any) (any, error) {
	cmd, err := s.runOnce(ctx, sc, true, keys, args)
	if err != nil && (errors.Is(err, redis.ErrNoScript) || redis.HasErrorPrefix(err, "NOSCRIPT")) {
		// The server never ran it: safe to send the source.
		cmd, err = s.runOnce(ctx, sc, false, keys, args)
	}
	if err != nil {
		return nil, err
	}
	return cmd.Val(), nil
}

func (s *Store) runOnce(ctx context.Context, sc script, bySHA bool, keys []string, args []any) (*redis.Cmd, error) {
	name, body := "eval", sc.src
	if bySHA {
		name, body = "evalsha", sc.sha
	}
	if sc.readOnly {
		name += "_ro"
	}
	cmdArgs := make([]any, 0, 3+len(keys)+len(args))
	cmdArgs = append(cmdArgs, name, body, strconv.Itoa(len(keys)))
	for _, k := range keys {
		cmdArgs = append(cmdArgs, k)
	}
	cmdArgs = append(cmdArgs, args...)
	cmd := redis.NewCmd(ctx, cmdArgs...)
	cmd.SetFirstKeyPos(3)
	var c redis.Cmder = cmd
	if !sc.readOnly {
		c = noRetryCmd{cmd}
	}
	_ = s.rdb.Process(ctx, c)
	return cmd, cmd.Err()
}

// fail wraps err from operation op on conversation id, mapping the error
// replies of this package's scripts to the memory sentinels.
func fail(op, id string, err error) error {
	switch {
	case redis.HasErrorPrefix(err, replyNotFound):
		return fmt.Errorf("redisstore: %s %q: %s: %w", op, id, replyText(err, replyNotFound), memory.ErrNotFound)
	case redis.HasErrorPrefix(err, replyConflict):
		return fmt.Errorf("redisstore: %s %q: %s: %w", op, id, replyText(err, replyConflict), memory.ErrConflict)
	}
	return fmt.Errorf("redisstore: %s %q: %w", op, id, Translate(err))
}

// replyText is the message of one of our error replies, after its prefix.
func replyText(err error, prefix string) string {
	msg := strings.TrimPrefix(err.Error(), "ERR ")
	return strings.TrimSpace(strings.TrimPrefix(msg, prefix))
}

// ---- conversations

// CreateConversation implements memory.Store. The conversation is written
// first, then its id is added to the tenant's index. A create that finds the
// id taken re-adds it to the index (repairing a create interrupted between
// the two steps) and fails with memory.ErrConflict.
func (s *Store) CreateConversation(ctx context.Context, c memory.Conversation) (memory.Conversation, error) {
	if c.ID == "" {
		return c, memory.Invalid("id", "must not be empty")
	}
	if c.CreatedAt.IsZero() {
		c.CreatedAt = s.cfg.Clock()
	}
	c.CreatedAt = c.CreatedAt.UTC()
	c.LastSeq = 0
	doc, err := json.Marshal(c)
	if err != nil {
		return c, fmt.Errorf("redisstore: create %q: encode: %w", c.ID, err)
	}
	k := s.keys(c.Tenant, c.ID)
	_, err = s.run(ctx, scriptCreate, []string{k.conv, k.sumVer}, doc, versionToken())
	if err != nil && !redis.HasErrorPrefix(err, replyConflict) {
		return c, fail("create", c.ID, err)
	}
	if zerr := s.rdb.ZAdd(ctx, s.tenantKey(c.Tenant), redis.Z{Member: c.ID}).Err(); zerr != nil {
		return c, fmt.Errorf("redisstore: create %q: index: %w", c.ID, Translate(zerr))
	}
	if err != nil {
		return c, fail("create", c.ID, err)
	}
	return c, nil
}

// GetConversation implements memory.Store.
func (s *Store) GetConversation(ctx context.Context, tenant, id string) (memory.Conversation, error) {
	vals, err := s.rdb.HMGet(ctx, s.keys(tenant, id).conv, "doc", "seq").Result()
	if err != nil {
		return memory.Conversation{}, fmt.Errorf("redisstore: get %q: %w", id, Translate(err))
	}
	c, ok, err := decodeConv(vals)
	if err != nil {
		return c, fmt.Errorf("redisstore: get %q: %w", id, err)
	}
	if !ok {
		return c, fmt.Errorf("redisstore: get %q: conversation: %w", id, memory.ErrNotFound)
	}
	return c, nil
}

// decodeConv decodes an HMGET doc seq reply; ok is false when the
// conversation does not exist.
func decodeConv(vals []any) (c memory.Conversation, ok bool, err error) {
	if len(vals) != 2 || vals[0] == nil {
		return c, false, nil
	}
	doc, _ := vals[0].(string)
	if err := json.Unmarshal([]byte(doc), &c); err != nil {
		return c, false, fmt.Errorf("decode conversation: %w", err)
	}
	if seq, _ := vals[1].(string); seq != "" {
		c.LastSeq, err = strconv.ParseInt(seq, 10, 64)
		if err != nil {
			return c, false, fmt.Errorf("decode last seq: %w", err)
		}
	}
	return c, true, nil
}

// ListConversations implements memory.Store. It reads the tenant's index in
// id order (ZRANGEBYLEX) and then the conversations of each page in one
// pipeline, skipping ids whose conversation is gone. With a UserID or BotID
// filter it scans pages until it has opts.Limit matches or the index ends,
// so a selective filter reads many of the tenant's conversations.
func (s *Store) ListConversations(ctx context.Context, opts memory.ListOptions) ([]memory.Conversation, error) {
	limit := memory.NormalizeListLimit(opts.Limit)
	page := limit
	if opts.UserID != "" || opts.BotID != "" {
		page = max(limit, 200)
	}
	index := s.tenantKey(opts.Tenant)
	after := opts.After
	out := []memory.Conversation{}
	for len(out) < limit {
		lo := "-"
		if after != "" {
			lo = "(" + after
		}
		ids, err := s.rdb.ZRangeByLex(ctx, index, &redis.ZRangeBy{Min: lo, Max: "+", Count: int64(page)}).Result()
		if err != nil {
			return nil, fmt.Errorf("redisstore: list %q: index: %w", opts.Tenant, Translate(err))
		}
		if len(ids) == 0 {
			break
		}
		cmds := make([]*redis.SliceCmd, len(ids))
		_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, id := range ids {
				cmds[i] = p.HMGet(ctx, s.keys(opts.Tenant, id).conv, "doc", "seq")
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("redisstore: list %q: %w", opts.Tenant, Translate(err))
		}
		for i, cmd := range cmds {
			c, ok, err := decodeConv(cmd.Val())
			if err != nil {
				return nil, fmt.Errorf("redisstore: list %q: %q: %w", opts.Tenant, ids[i], err)
			}
			if !ok || (opts.UserID != "" && c.UserID != opts.UserID) || (opts.BotID != "" && c.BotID != opts.BotID) {
				continue
			}
			out = append(out, c)
			if len(out) == limit {
				break
			}
		}
		if len(ids) < page {
			break
		}
		after = ids[len(ids)-1]
	}
	return out, nil
}

// DeleteConversation implements memory.Store. It removes the conversation's
// keys (turns, idempotency records, summaries) in one script, then its id from the tenant index; should the id have
// been created again meanwhile, the id is put back.
func (s *Store) DeleteConversation(ctx context.Context, tenant, id string) error {
	k := s.keys(tenant, id)
	if _, err := s.run(ctx, scriptDeleteConv, []string{k.conv, k.turns, k.idems, k.sums, k.sumOrder, k.sumStale, k.sumVer}); err != nil {
		return fail("delete", id, err)
	}
	index := s.tenantKey(tenant)
	if err := s.rdb.ZRem(ctx, index, id).Err(); err != nil {
		return fmt.Errorf("redisstore: delete %q: index: %w", id, Translate(err))
	}
	// A create that ran between the two steps above found its id still in
	// the index; make sure it stays listed.
	n, err := s.rdb.Exists(ctx, k.conv).Result()
	if err != nil {
		return fmt.Errorf("redisstore: delete %q: index: %w", id, Translate(err))
	}
	if n > 0 {
		if err := s.rdb.ZAdd(ctx, index, redis.Z{Member: id}).Err(); err != nil {
			return fmt.Errorf("redisstore: delete %q: index: %w", id, Translate(err))
		}
	}
	return nil
}

// ---- turns

// storedTurn is a turn as encoded before the append script; the script puts
// "seq" in front. Role and Content are never omitted, so the object is never
// empty.
type storedTurn struct {
	Role      memory.Role    `json:"role"`
	Name      string         `json:"name,omitempty"`
	Content   string         `json:"content"`
	CreatedAt time.Time      `json:"created_at"`
	Tokens    int            `json:"tokens"`
	Metadata  map[string]any `json:"metadata,omitempty"`
}

// AppendTurns implements memory.Store. Turns are encoded here, then one
// script checks the conversation and the idempotency key, assigns the seqs,
// stores the turns and the idempotency record. A nil error means Redis has
// executed it (see the package comment on durability). When ctx ends or the
// connection fails after the script was sent, the append may or may not have
// happened; retry with an idempotency key.
func (s *Store) AppendTurns(ctx context.Context, tenant, id string, turns []memory.Turn, opts memory.AppendOptions) ([]memory.Turn, error) {
	if err := memory.ValidateTurns(turns); err != nil {
		return nil, err
	}
	now := s.cfg.Clock().UTC()
	out := make([]memory.Turn, len(turns))
	args := make([]any, 0, 2+len(turns))
	args = append(args, strconv.FormatInt(s.cfg.IdempotencyTTL.Milliseconds(), 10), opts.RequestHash)
	for i, t := range turns {
		t.ConversationID = id
		if t.CreatedAt.IsZero() {
			t.CreatedAt = now
		}
		t.CreatedAt = t.CreatedAt.UTC()
		raw, err := json.Marshal(storedTurn{Role: t.Role, Name: t.Name, Content: t.Content, CreatedAt: t.CreatedAt, Tokens: t.Tokens, Metadata: t.Metadata})
		if err != nil {
			return nil, fmt.Errorf("redisstore: append %q: encode turns[%d]: %w", id, i, err)
		}
		args = append(args, raw)
		out[i] = t
	}
	k := s.keys(tenant, id)
	keys := []string{k.conv, k.turns, k.idems}
	if opts.IdempotencyKey != "" {
		keys = append(keys, k.idem(opts.IdempotencyKey))
	}
	res, err := s.run(ctx, scriptAppend, keys, args...)
	if err != nil {
		return nil, fail("append", id, err)
	}
	reply, ok := res.([]any)
	if !ok || len(reply) < 2 {
		return nil, fmt.Errorf("redisstore: append %q: unexpected reply %v", id, res)
	}
	fresh, _ := reply[0].(int64)
	first, _ := reply[1].(int64)
	if fresh == 1 {
		for i := range out {
			out[i].Seq = first + int64(i)
		}
		return out, nil
	}
	// A replay: the turns of the original append that are still stored.
	var members []any
	if len(reply) > 2 {
		members, _ = reply[2].([]any)
	}
	replayed, err := decodeTurns(members, id)
	if err != nil {
		return nil, fmt.Errorf("redisstore: append %q: %w", id, err)
	}
	return replayed, nil
}

func decodeTurn(member any, id string) (memory.Turn, error) {
	var t memory.Turn
	raw, ok := member.(string)
	if !ok {
		return t, fmt.Errorf("unexpected turn reply %T", member)
	}
	if err := json.Unmarshal([]byte(raw), &t); err != nil {
		return t, fmt.Errorf("decode turn: %w", err)
	}
	t.ConversationID = id
	return t, nil
}

func decodeTurns(members []any, id string) ([]memory.Turn, error) {
	out := make([]memory.Turn, len(members))
	for i, m := range members {
		t, err := decodeTurn(m, id)
		if err != nil {
			return nil, err
		}
		out[i] = t
	}
	return out, nil
}

// readTurns runs a reading script whose reply is a list of turn members.
func (s *Store) readTurns(ctx context.Context, op string, sc script, tenant, id string, args ...any) ([]memory.Turn, error) {
	k := s.keys(tenant, id)
	res, err := s.run(ctx, sc, []string{k.conv, k.turns}, args...)
	if err != nil {
		return nil, fail(op, id, err)
	}
	members, ok := res.([]any)
	if !ok {
		return nil, fmt.Errorf("redisstore: %s %q: unexpected reply %T", op, id, res)
	}
	turns, err := decodeTurns(members, id)
	if err != nil {
		return nil, fmt.Errorf("redisstore: %s %q: %w", op, id, err)
	}
	return turns, nil
}

// Turns implements memory.Store: seq > afterSeq, ascending, at most limit
// (limit <= 0: all). Cost O(log N + returned).
func (s *Store) Turns(ctx context.Context, tenant, id string, afterSeq int64, limit int) ([]memory.Turn, error) {
	return s.readTurns(ctx, "turns", scriptTurns, tenant, id, strconv.FormatInt(afterSeq, 10), strconv.Itoa(max(limit, 0)))
}

// LastTurns implements memory.Store: the n highest seqs, ascending.
func (s *Store) LastTurns(ctx context.Context, tenant, id string, n int) ([]memory.Turn, error) {
	turns, err := s.readTurns(ctx, "last turns", scriptLastTurns, tenant, id, strconv.Itoa(max(n, 0)))
	if err != nil {
		return nil, err
	}
	for i, j := 0, len(turns)-1; i < j; i, j = i+1, j-1 {
		turns[i], turns[j] = turns[j], turns[i]
	}
	return turns, nil
}

// GetTurn implements memory.Store.
func (s *Store) GetTurn(ctx context.Context, tenant, id string, seq int64) (memory.Turn, error) {
	k := s.keys(tenant, id)
	res, err := s.run(ctx, scriptGetTurn, []string{k.conv, k.turns}, strconv.FormatInt(seq, 10))
	if err != nil {
		return memory.Turn{}, fail(fmt.Sprintf("get turn %d of", seq), id, err)
	}
	t, err := decodeTurn(res, id)
	if err != nil {
		return t, fmt.Errorf("redisstore: get turn %d of %q: %w", seq, id, err)
	}
	return t, nil
}

// DeleteTurn implements memory.Store. The conversation's LastSeq stays, so
// the seq is never reused. The same script marks Stale every summary, at
// every level, whose range holds seq.
func (s *Store) DeleteTurn(ctx context.Context, tenant, id string, seq int64) error {
	k := s.keys(tenant, id)
	next := ""
	if seq >= 0 && seq < math.MaxInt64 {
		next = fmt.Sprintf("%019d", seq+1)
	}
	if _, err := s.run(ctx, scriptDeleteTurn, []string{k.conv, k.turns, k.sumOrder, k.sumStale, k.sumVer},
		strconv.FormatInt(seq, 10), next, versionToken()); err != nil {
		return fail(fmt.Sprintf("delete turn %d of", seq), id, err)
	}
	return nil
}
