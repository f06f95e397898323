package bots

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/longmem/longmem/memory"
)

// ListBots returns every bot of tenant (latest versions), ascending by id;
// none when the server has no bots or its BotSource cannot list.
func (c *Chat) ListBots(ctx context.Context, tenant string) ([]Bot, error) {
	l, ok := c.deps.Bots.(BotLister)
	if !ok {
		return []Bot{}, nil
	}
	return listAll(ctx, l, tenant)
}

// listAll returns every bot of tenant l holds, ascending by id.
func listAll(ctx context.Context, l BotLister, tenant string) ([]Bot, error) {
	out := []Bot{}
	after := ""
	for {
		page, err := l.List(ctx, ListOptions{Tenant: tenant, After: after, Limit: memory.MaxListLimit})
		if err != nil {
			return nil, fmt.Errorf("bots: list: %w", err)
		}
		out = append(out, page...)
		if len(page) < memory.MaxListLimit {
			return out, nil
		}
		after = page[len(page)-1].ID
	}
}

// FindBot returns the latest version of the bot that model names: its id,
// else its name (exactly, then regardless of case). A *NotFoundError when
// none; a *ConflictError listing the ids when several bots share the name,
// since picking one would answer with a persona the caller may not mean.
func (c *Chat) FindBot(ctx context.Context, tenant, model string) (*Bot, error) {
	if c.deps.Bots != nil && ValidID(model) {
		b, err := c.deps.Bots.Get(ctx, tenant, model)
		if err == nil {
			return &b, nil
		}
		if !errors.Is(err, memory.ErrNotFound) {
			return nil, fmt.Errorf("bots: get bot %q: %w", model, err)
		}
	}
	all, err := c.ListBots(ctx, tenant)
	if err != nil {
		return nil, err
	}
	var exact, fold []int
	for i := range all {
		switch {
		case all[i].Name == model:
			exact = append(exact, i)
		case strings.EqualFold(all[i].Name, model):
			fold = append(fold, i)
		}
	}
	found := exact
	if len(found) == 0 {
		found = fold
	}
	switch len(found) {
	case 0:
		return nil, &NotFoundError{Message: fmt.Sprintf("model %q names no bot (by id or name); GET /v1/models lists them", model), Err: memory.ErrNotFound}
	case 1:
		return &all[found[0]], nil
	}
	ids := make([]string, len(found))
	for i, j := range found {
		ids[i] = strconv.Quote(all[j].ID)
	}
	return nil, &ConflictError{Message: fmt.Sprintf("model %q is the name of %d bots (ids %s); name one by its id", model, len(found), strings.Join(ids, ", ")), Err: ErrAmbiguous}
}

// BotFor is the bot a new conversation with botID (pinned to version v when
// v > 0) is chatted with: nil when botID is empty or the server has no
// bots; a *NotFoundError when the bot or version does not exist.
func (c *Chat) BotFor(ctx context.Context, tenant, botID string, v int) (*Bot, error) {
	if botID == "" || c.deps.Bots == nil {
		return nil, nil
	}
	return c.Bot(ctx, tenant, botID, v)
}

// OpenConversation returns conversation id of tenant for bot, creating it
// (with the bot's first message) when it does not exist. A conversation
// that belongs to another bot is a *ConflictError.
func (c *Chat) OpenConversation(ctx context.Context, tenant, id string, bot *Bot) (memory.Conversation, error) {
	for range 2 {
		conv, err := c.deps.Store.GetConversation(ctx, tenant, id)
		if err == nil {
			if bot != nil && conv.BotID != bot.ID {
				owner := fmt.Sprintf("belongs to bot %q", conv.BotID)
				if conv.BotID == "" {
					owner = "was created without a bot"
				}
				return conv, &ConflictError{Message: fmt.Sprintf("conversation %q %s, not for %q: use another conversation id", id, owner, bot.ID), Err: memory.ErrConflict}
			}
			return conv, nil
		}
		if !errors.Is(err, memory.ErrNotFound) {
			return conv, err
		}
		nc := memory.Conversation{ID: id, Tenant: tenant}
		if bot != nil {
			nc.BotID = bot.ID
		}
		conv, err = c.deps.Store.CreateConversation(ctx, nc)
		if errors.Is(err, memory.ErrConflict) {
			continue // created meanwhile by a concurrent request
		}
		if err != nil {
			return conv, err
		}
		if _, err := c.Greet(ctx, conv, bot); err != nil {
			return conv, err
		}
		return conv, nil
	}
	return memory.Conversation{}, fmt.Errorf("bots: conversation %q: created and gone again", id)
}
