package api

import (
	"context"

	"github.com/longmem/longmem/bots"
)

// checkedBots is Deps.Bots with every write checked by Deps.Backends
// first, so that no route can save a bot whose backend the server would
// refuse to call.
type checkedBots struct {
	bots.Store
	backends BackendChecker
}

func (s checkedBots) Create(ctx context.Context, tenant string, b bots.Bot, author string) (bots.Bot, error) {
	if err := s.backends.Check(b.Model); err != nil {
		return bots.Bot{}, err
	}
	return s.Store.Create(ctx, tenant, b, author)
}

func (s checkedBots) Update(ctx context.Context, tenant string, b bots.Bot, ifVersion int, author string) (bots.Bot, error) {
	if err := s.backends.Check(b.Model); err != nil {
		return bots.Bot{}, err
	}
	return s.Store.Update(ctx, tenant, b, ifVersion, author)
}
