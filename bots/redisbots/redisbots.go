// Package redisbots is the Redis bots.Store (go-redis v9), on a single Redis
// server or on Redis Cluster (Redis 7 or later).
//
// # Key layout
//
// P is Config.KeyPrefix (default "lm"); T and I are the tenant and the bot
// id, percent-encoded (every byte outside [A-Za-z0-9._~-]), so the hash tag
// {T/I} is the same for every key of a bot and two (tenant, id) pairs never
// share a key:
//
//	P:bot:{T/I}:meta       hash: v → latest version, doc → its Bot JSON
//	P:bot:{T/I}:versions   hash: version → that version's Bot JSON
//	P:tenant:{T}:bots      sorted set: bot ids, score 0, read with ZRANGE BYLEX
//
// Every write of a bot is one Lua script on its slot. An update reads the
// latest version, builds the next in Go, and stores it with a
// compare-and-set script that fails when the latest version moved in
// between: with an If-Match version that is ErrPrecondition, without one
// the update is rebuilt on the new latest and tried again.
//
// The tenant index lives in another slot, so it is kept consistent by
// order: create writes the bot, then adds the id; delete removes the bot,
// then the id; listing skips ids whose bot is gone, and every update adds
// the id again (a no-op unless a crash lost it).
//
// The client sends no command twice (MaxRetries -1): a write retried after
// a network error could otherwise store a version twice.
package redisbots

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/longmem/longmem/bots"
	"github.com/longmem/longmem/memory"
	"github.com/longmem/longmem/memory/redisstore"
)

// Config is the memory store's Redis configuration (memory/redisstore): the
// bots live in the same Redis, under the same key prefix (default "lm"),
// and the same Validate applies. IdempotencyTTL is unused here; Clock
// stamps versions.
type Config = redisstore.Config

// Store is the Redis bots.Store. It is safe for concurrent use.
type Store struct {
	rdb       redis.UniversalClient
	prefix    string
	clock     func() time.Time
	closeOnce sync.Once
	closeErr  error
}

var _ bots.Store = (*Store)(nil)

// New connects (checking Redis answers PING) and returns the store. It
// writes nothing. Close releases the connections.
func New(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.KeyPrefix == "" {
		cfg.KeyPrefix = "lm"
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	opts := cfg.Options()
	opts.MaxRetries = -1
	rdb := redis.NewUniversalClient(opts)
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		return nil, fmt.Errorf("redisbots: connect %v: %w", opts.Addrs, err)
	}
	return &Store{rdb: rdb, prefix: cfg.KeyPrefix, clock: cfg.Clock}, nil
}

// Close closes the connections. Calls after the first return its result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.rdb.Close() })
	return s.closeErr
}

// ---- keys

// escape percent-encodes every byte outside [A-Za-z0-9._~-].
func escape(s string) string {
	const hexdig = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexdig[c>>4])
		b.WriteByte(hexdig[c&15])
	}
	return b.String()
}

// botKeys are the keys of one bot: meta, versions.
func (s *Store) botKeys(tenant, id string) []string {
	base := s.prefix + ":bot:{" + escape(tenant) + "/" + escape(id) + "}:"
	return []string{base + "meta", base + "versions"}
}

func (s *Store) indexKey(tenant string) string {
	return s.prefix + ":tenant:{" + escape(tenant) + "}:bots"
}

// ---- scripts (KEYS: meta, versions)

// Error replies of the scripts; nothing else is matched on error text.
const (
	replyNotFound = "LMNOTFOUND"
	replyConflict = "LMCONFLICT"
	replyStale    = "LMSTALE"
)

// scriptCreate stores version 1. ARGV: Bot JSON.
var scriptCreate = redis.NewScript(`#!lua
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.error_reply('LMCONFLICT bot exists')
end
redis.call('HSET', KEYS[1], 'v', '1', 'doc', ARGV[1])
redis.call('HSET', KEYS[2], '1', ARGV[1])
return 1
`)

// scriptUpdate stores version ARGV[1]+1 if ARGV[1] is still the latest.
// ARGV: expected latest version, the new version's Bot JSON.
var scriptUpdate = redis.NewScript(`#!lua
local cur = redis.call('HGET', KEYS[1], 'v')
if not cur then
  return redis.error_reply('LMNOTFOUND bot')
end
if cur ~= ARGV[1] then
  return redis.error_reply('LMSTALE latest is ' .. cur)
end
local nv = tostring(tonumber(cur) + 1)
redis.call('HSET', KEYS[1], 'v', nv, 'doc', ARGV[2])
redis.call('HSET', KEYS[2], nv, ARGV[2])
return 1
`)

// scriptDelete removes the bot's keys.
var scriptDelete = redis.NewScript(`#!lua
if redis.call('EXISTS', KEYS[1]) == 0 then
  return redis.error_reply('LMNOTFOUND bot')
end
redis.call('DEL', KEYS[1], KEYS[2])
return 1
`)

func notFound(tenant, id string) error {
	return fmt.Errorf("redisbots: bot %q (tenant %q): %w", id, tenant, memory.ErrNotFound)
}

func decode(data string, tenant string) (bots.Bot, error) {
	var b bots.Bot
	if err := json.Unmarshal([]byte(data), &b); err != nil {
		return bots.Bot{}, fmt.Errorf("redisbots: decode bot: %w", err)
	}
	b.Tenant = tenant
	return b, nil
}

// ---- reads

// Get returns the latest version of a bot.
func (s *Store) Get(ctx context.Context, tenant, id string) (_ bots.Bot, err error) {
	defer func() { err = redisstore.Translate(err) }() // outages read as memory.ErrUnavailable
	data, err := s.rdb.HGet(ctx, s.botKeys(tenant, id)[0], "doc").Result()
	if errors.Is(err, redis.Nil) {
		return bots.Bot{}, notFound(tenant, id)
	}
	if err != nil {
		return bots.Bot{}, fmt.Errorf("redisbots: get %q: %w", id, err)
	}
	return decode(data, tenant)
}

// GetVersion returns one version of a bot.
func (s *Store) GetVersion(ctx context.Context, tenant, id string, version int) (_ bots.Bot, err error) {
	defer func() { err = redisstore.Translate(err) }() // outages read as memory.ErrUnavailable
	if version < 1 {
		return bots.Bot{}, fmt.Errorf("redisbots: bot %q version %d: %w", id, version, memory.ErrNotFound)
	}
	data, err := s.rdb.HGet(ctx, s.botKeys(tenant, id)[1], strconv.Itoa(version)).Result()
	if errors.Is(err, redis.Nil) {
		return bots.Bot{}, fmt.Errorf("redisbots: bot %q version %d: %w", id, version, memory.ErrNotFound)
	}
	if err != nil {
		return bots.Bot{}, fmt.Errorf("redisbots: get %q version %d: %w", id, version, err)
	}
	return decode(data, tenant)
}

// Versions lists a bot's versions, ascending. The versions hash exists
// exactly while the bot does (both are written and deleted by one script).
func (s *Store) Versions(ctx context.Context, tenant, id string) (_ []bots.VersionInfo, err error) {
	defer func() { err = redisstore.Translate(err) }() // outages read as memory.ErrUnavailable
	all, err := s.rdb.HVals(ctx, s.botKeys(tenant, id)[1]).Result()
	if err != nil {
		return nil, fmt.Errorf("redisbots: versions of %q: %w", id, err)
	}
	if len(all) == 0 {
		return nil, notFound(tenant, id)
	}
	out := make([]bots.VersionInfo, 0, len(all))
	for _, data := range all {
		b, err := decode(data, tenant)
		if err != nil {
			return nil, err
		}
		out = append(out, bots.VersionInfo{Version: b.Version, Author: b.Author, CreatedAt: b.UpdatedAt})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// List returns the latest versions of a tenant's bots matching opts.Q, in
// id order after opts.After. With a Q it reads the tenant's bots page by
// page until the limit is filled: its cost grows with the bots skipped.
func (s *Store) List(ctx context.Context, opts bots.ListOptions) (_ []bots.Bot, err error) {
	defer func() { err = redisstore.Translate(err) }() // outages read as memory.ErrUnavailable
	limit := memory.NormalizeListLimit(opts.Limit)
	out := make([]bots.Bot, 0, min(limit, 64))
	after := opts.After
	for len(out) < limit {
		min := "-"
		if after != "" {
			min = "(" + after
		}
		page := limit - len(out)
		if opts.Q != "" {
			page = max(page, 100)
		}
		ids, err := s.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{
			Key: s.indexKey(opts.Tenant), Start: min, Stop: "+", ByLex: true, Count: int64(page),
		}).Result()
		if err != nil {
			return nil, fmt.Errorf("redisbots: list: %w", err)
		}
		if len(ids) == 0 {
			break
		}
		cmds := make([]*redis.StringCmd, len(ids))
		_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, id := range ids {
				cmds[i] = p.HGet(ctx, s.botKeys(opts.Tenant, id)[0], "doc")
			}
			return nil
		})
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, fmt.Errorf("redisbots: list: %w", err)
		}
		for _, cmd := range cmds {
			data, err := cmd.Result()
			if errors.Is(err, redis.Nil) {
				continue // deleted after the index was read
			}
			if err != nil {
				return nil, fmt.Errorf("redisbots: list: %w", err)
			}
			b, err := decode(data, opts.Tenant)
			if err != nil {
				return nil, err
			}
			if bots.Matches(b, opts.Q) && len(out) < limit {
				out = append(out, b)
			}
		}
		if len(ids) < page {
			break
		}
		after = ids[len(ids)-1]
	}
	return out, nil
}

// ---- writes

// Create stores version 1 of a new bot.
func (s *Store) Create(ctx context.Context, tenant string, b bots.Bot, author string) (_ bots.Bot, err error) {
	defer func() { err = redisstore.Translate(err) }() // outages read as memory.ErrUnavailable
	nb, err := bots.NewVersion(b, tenant, 1, author, time.Time{}, s.clock())
	if err != nil {
		return bots.Bot{}, err
	}
	data, err := json.Marshal(nb)
	if err != nil {
		return bots.Bot{}, fmt.Errorf("redisbots: encode bot: %w", err)
	}
	if err := scriptCreate.Run(ctx, s.rdb, s.botKeys(tenant, nb.ID), data).Err(); err != nil {
		return bots.Bot{}, s.fail("create", tenant, nb.ID, err)
	}
	if err := s.rdb.ZAdd(ctx, s.indexKey(tenant), redis.Z{Member: nb.ID}).Err(); err != nil {
		return bots.Bot{}, fmt.Errorf("redisbots: create %q: index: %w", nb.ID, err)
	}
	return nb, nil
}

// maxUpdateAttempts bounds how often an unconditional update is rebuilt
// after losing the compare-and-set to another update.
const maxUpdateAttempts = 100

// Update stores b as the next version of its bot.
func (s *Store) Update(ctx context.Context, tenant string, b bots.Bot, ifVersion int, author string) (_ bots.Bot, err error) {
	defer func() { err = redisstore.Translate(err) }() // outages read as memory.ErrUnavailable
	if err := bots.Validate(b); err != nil {
		return bots.Bot{}, err
	}
	keys := s.botKeys(tenant, b.ID)
	for attempt := 0; attempt < maxUpdateAttempts; attempt++ {
		cur, err := s.Get(ctx, tenant, b.ID)
		if err != nil {
			return bots.Bot{}, err
		}
		if ifVersion > 0 && ifVersion != cur.Version {
			return bots.Bot{}, fmt.Errorf("redisbots: bot %q: update of version %d, the latest is %d: %w", b.ID, ifVersion, cur.Version, bots.ErrPrecondition)
		}
		nb, err := bots.NewVersion(b, tenant, cur.Version+1, author, cur.CreatedAt, s.clock())
		if err != nil {
			return bots.Bot{}, err
		}
		data, err := json.Marshal(nb)
		if err != nil {
			return bots.Bot{}, fmt.Errorf("redisbots: encode bot: %w", err)
		}
		err = scriptUpdate.Run(ctx, s.rdb, keys, strconv.Itoa(cur.Version), data).Err()
		switch {
		case err == nil:
			if err := s.rdb.ZAdd(ctx, s.indexKey(tenant), redis.Z{Member: nb.ID}).Err(); err != nil {
				return bots.Bot{}, fmt.Errorf("redisbots: update %q: index: %w", nb.ID, err)
			}
			return nb, nil
		case redis.HasErrorPrefix(err, replyStale):
			if ifVersion > 0 {
				return bots.Bot{}, fmt.Errorf("redisbots: bot %q: version %d was superseded during the update: %w", b.ID, ifVersion, bots.ErrPrecondition)
			}
			continue
		default:
			return bots.Bot{}, s.fail("update", tenant, b.ID, err)
		}
	}
	return bots.Bot{}, fmt.Errorf("redisbots: bot %q: %d updates in a row lost to concurrent ones: %w", b.ID, maxUpdateAttempts, bots.ErrPrecondition)
}

// Delete removes a bot and all its versions.
func (s *Store) Delete(ctx context.Context, tenant, id string) (err error) {
	defer func() { err = redisstore.Translate(err) }() // outages read as memory.ErrUnavailable
	if err := scriptDelete.Run(ctx, s.rdb, s.botKeys(tenant, id)).Err(); err != nil {
		return s.fail("delete", tenant, id, err)
	}
	if err := s.rdb.ZRem(ctx, s.indexKey(tenant), id).Err(); err != nil {
		return fmt.Errorf("redisbots: delete %q: index: %w", id, err)
	}
	return nil
}

// fail maps a script's error reply to the contract's sentinels.
func (s *Store) fail(op, tenant, id string, err error) error {
	switch {
	case redis.HasErrorPrefix(err, replyNotFound):
		return notFound(tenant, id)
	case redis.HasErrorPrefix(err, replyConflict):
		return fmt.Errorf("redisbots: %s %q (tenant %q): %w", op, id, tenant, memory.ErrConflict)
	}
	return fmt.Errorf("redisbots: %s %q: %w", op, id, err)
}
