// Package embeddedbots is the default bots.Store: one bbolt file (bots.db)
// in the data directory, durable on return (fsync per commit).
//
// Layout (bbolt buckets; T is the tenant preceded by its length as a
// uvarint, so that no tenant's keys are a prefix of another's):
//
//	head     / T id                   → the latest version's Bot JSON
//	versions / T id 0x00 version(BE4) → each version's Bot JSON
//
// Bot ids are [A-Za-z0-9_-], so the 0x00 after the id ends it, and keys
// within a tenant sort by id. bbolt runs one write transaction at a time:
// an update reads the latest version and writes the next in one
// transaction, which is what makes If-Match (ifVersion) exact.
package embeddedbots

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/longmem/longmem/bots"
	"github.com/longmem/longmem/memory"
	"github.com/longmem/longmem/memory/embedded"
)

// FileName is the store's file in the data directory.
const FileName = "bots.db"

var (
	bucketHead     = []byte("head")
	bucketVersions = []byte("versions")
)

// Config of the embedded bots store. The zero value stores in
// ./longmem-data/bots.db.
type Config struct {
	// Dir is the data directory, created when missing (default "longmem-data").
	Dir string
	// Clock stamps versions (default time.Now).
	Clock func() time.Time
}

// Validate reports a configuration that cannot work (none, so far).
func (c Config) Validate() error { return nil }

// Store is the bbolt-backed bots.Store. It is safe for concurrent use.
type Store struct {
	db    *bolt.DB
	clock func() time.Time
}

var _ bots.Store = (*Store)(nil)

// Open opens (creating when missing) Dir/bots.db. Close closes it.
func Open(cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Dir == "" {
		cfg.Dir = "longmem-data"
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	db, err := embedded.OpenDB(cfg.Dir, FileName, bucketHead, bucketVersions)
	if err != nil {
		return nil, fmt.Errorf("embeddedbots: %w", err)
	}
	return &Store{db: db, clock: cfg.Clock}, nil
}

// Close closes the file. Calls after the first return nil.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil && !errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return err
	}
	return nil
}

// ---- keys

func tenantPrefix(tenant string) []byte {
	k := binary.AppendUvarint(make([]byte, 0, 2+len(tenant)+bots.MaxIDLen+5), uint64(len(tenant)))
	return append(k, tenant...)
}

func headKey(tenant, id string) []byte { return append(tenantPrefix(tenant), id...) }

// versionPrefix is the prefix of every version key of one bot.
func versionPrefix(tenant, id string) []byte { return append(headKey(tenant, id), 0) }

func versionKey(tenant, id string, v int) []byte {
	return binary.BigEndian.AppendUint32(versionPrefix(tenant, id), uint32(v))
}

// ---- reads

func notFound(tenant, id string) error {
	return fmt.Errorf("embeddedbots: bot %q (tenant %q): %w", id, tenant, memory.ErrNotFound)
}

func decode(data []byte, tenant string) (bots.Bot, error) {
	var b bots.Bot
	if err := json.Unmarshal(data, &b); err != nil {
		return bots.Bot{}, fmt.Errorf("embeddedbots: decode bot: %w", err)
	}
	b.Tenant = tenant
	return b, nil
}

// Get returns the latest version of a bot.
func (s *Store) Get(ctx context.Context, tenant, id string) (_ bots.Bot, err error) {
	defer func() { err = embedded.Translate(err) }() // outages read as memory.ErrUnavailable
	var b bots.Bot
	err = s.db.View(func(tx *bolt.Tx) error {
		data := tx.Bucket(bucketHead).Get(headKey(tenant, id))
		if data == nil || !bots.ValidID(id) {
			return notFound(tenant, id)
		}
		var err error
		b, err = decode(data, tenant)
		return err
	})
	return b, err
}

// GetVersion returns one version of a bot.
func (s *Store) GetVersion(ctx context.Context, tenant, id string, version int) (_ bots.Bot, err error) {
	defer func() { err = embedded.Translate(err) }() // outages read as memory.ErrUnavailable
	var b bots.Bot
	err = s.db.View(func(tx *bolt.Tx) error {
		if version < 1 || version > 1<<31 || !bots.ValidID(id) {
			return fmt.Errorf("embeddedbots: bot %q version %d: %w", id, version, memory.ErrNotFound)
		}
		data := tx.Bucket(bucketVersions).Get(versionKey(tenant, id, version))
		if data == nil {
			return fmt.Errorf("embeddedbots: bot %q version %d: %w", id, version, memory.ErrNotFound)
		}
		var err error
		b, err = decode(data, tenant)
		return err
	})
	return b, err
}

// Versions lists a bot's versions, ascending.
func (s *Store) Versions(ctx context.Context, tenant, id string) (_ []bots.VersionInfo, err error) {
	defer func() { err = embedded.Translate(err) }() // outages read as memory.ErrUnavailable
	var out []bots.VersionInfo
	err = s.db.View(func(tx *bolt.Tx) error {
		if !bots.ValidID(id) || tx.Bucket(bucketHead).Get(headKey(tenant, id)) == nil {
			return notFound(tenant, id)
		}
		prefix := versionPrefix(tenant, id)
		c := tx.Bucket(bucketVersions).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			b, err := decode(v, tenant)
			if err != nil {
				return err
			}
			out = append(out, bots.VersionInfo{Version: b.Version, Author: b.Author, CreatedAt: b.UpdatedAt})
		}
		return nil
	})
	return out, err
}

// List returns the latest versions of a tenant's bots matching opts.Q, in
// id order after opts.After.
func (s *Store) List(ctx context.Context, opts bots.ListOptions) (_ []bots.Bot, err error) {
	defer func() { err = embedded.Translate(err) }() // outages read as memory.ErrUnavailable
	limit := memory.NormalizeListLimit(opts.Limit)
	var out []bots.Bot
	err = s.db.View(func(tx *bolt.Tx) error {
		prefix := tenantPrefix(opts.Tenant)
		c := tx.Bucket(bucketHead).Cursor()
		start := append(append([]byte(nil), prefix...), opts.After...)
		for k, v := c.Seek(start); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if opts.After != "" && string(k[len(prefix):]) <= opts.After {
				continue
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			b, err := decode(v, opts.Tenant)
			if err != nil {
				return err
			}
			if !bots.Matches(b, opts.Q) {
				continue
			}
			out = append(out, b)
			if len(out) == limit {
				break
			}
		}
		return nil
	})
	return out, err
}

// ---- writes

// Create stores version 1 of a new bot.
func (s *Store) Create(ctx context.Context, tenant string, b bots.Bot, author string) (_ bots.Bot, err error) {
	defer func() { err = embedded.Translate(err) }() // outages read as memory.ErrUnavailable
	nb, err := bots.NewVersion(b, tenant, 1, author, time.Time{}, s.clock())
	if err != nil {
		return bots.Bot{}, err
	}
	data, err := json.Marshal(nb)
	if err != nil {
		return bots.Bot{}, fmt.Errorf("embeddedbots: encode bot: %w", err)
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		head := tx.Bucket(bucketHead)
		key := headKey(tenant, nb.ID)
		if head.Get(key) != nil {
			return fmt.Errorf("embeddedbots: bot %q (tenant %q): %w", nb.ID, tenant, memory.ErrConflict)
		}
		if err := head.Put(key, data); err != nil {
			return err
		}
		return tx.Bucket(bucketVersions).Put(versionKey(tenant, nb.ID, 1), data)
	})
	if err != nil {
		return bots.Bot{}, err
	}
	return nb, nil
}

// Update stores b as the next version of its bot.
func (s *Store) Update(ctx context.Context, tenant string, b bots.Bot, ifVersion int, author string) (_ bots.Bot, err error) {
	defer func() { err = embedded.Translate(err) }() // outages read as memory.ErrUnavailable
	if err := bots.Validate(b); err != nil {
		return bots.Bot{}, err
	}
	var nb bots.Bot
	err = s.db.Update(func(tx *bolt.Tx) error {
		head := tx.Bucket(bucketHead)
		key := headKey(tenant, b.ID)
		data := head.Get(key)
		if data == nil {
			return notFound(tenant, b.ID)
		}
		cur, err := decode(data, tenant)
		if err != nil {
			return err
		}
		if ifVersion > 0 && ifVersion != cur.Version {
			return fmt.Errorf("embeddedbots: bot %q: update of version %d, the latest is %d: %w", b.ID, ifVersion, cur.Version, bots.ErrPrecondition)
		}
		nb, err = bots.NewVersion(b, tenant, cur.Version+1, author, cur.CreatedAt, s.clock())
		if err != nil {
			return err
		}
		if data, err = json.Marshal(nb); err != nil {
			return fmt.Errorf("embeddedbots: encode bot: %w", err)
		}
		if err := head.Put(key, data); err != nil {
			return err
		}
		return tx.Bucket(bucketVersions).Put(versionKey(tenant, b.ID, nb.Version), data)
	})
	if err != nil {
		return bots.Bot{}, err
	}
	return nb, nil
}

// Delete removes a bot and all its versions.
func (s *Store) Delete(ctx context.Context, tenant, id string) (err error) {
	defer func() { err = embedded.Translate(err) }() // outages read as memory.ErrUnavailable
	return s.db.Update(func(tx *bolt.Tx) error {
		head := tx.Bucket(bucketHead)
		key := headKey(tenant, id)
		if !bots.ValidID(id) || head.Get(key) == nil {
			return notFound(tenant, id)
		}
		if err := head.Delete(key); err != nil {
			return err
		}
		prefix := versionPrefix(tenant, id)
		c := tx.Bucket(bucketVersions).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Seek(prefix) {
			if err := c.Delete(); err != nil {
				return err
			}
		}
		return nil
	})
}
