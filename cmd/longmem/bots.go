package main

import (
	"context"
	"fmt"

	"github.com/longmem/longmem/bots"
	"github.com/longmem/longmem/bots/embeddedbots"
	"github.com/longmem/longmem/bots/redisbots"
)

// openBots opens the bot store beside the memory store cfg names: the
// file bots.db in the embedded data directory, or the same Redis (its keys
// under the same prefix, "P:bot:{…}" and "P:tenant:{…}:bots").
func openBots(ctx context.Context, cfg StorageConfig) (bots.Store, error) {
	switch cfg.Backend {
	case backendEmbedded:
		return embeddedbots.Open(embeddedbots.Config{Dir: cfg.Data})
	case backendRedis:
		cctx, cancel := context.WithTimeout(ctx, redisConnectTimeout)
		defer cancel()
		return redisbots.New(cctx, cfg.Redis.store())
	}
	return nil, fmt.Errorf("storage: unknown backend %q (want embedded or redis)", cfg.Backend)
}
