package bots

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"
)

// ContentHash is a hex SHA-256 of b's content: every field but the id,
// tenant, version, author, times and picture, numbers compared by value (a card's
// 1.50 is a stored bot's 1.5). The same card as JSON or inside a PNG, and
// the bot imported from it, have the same hash. Pure.
func ContentHash(b Bot) string {
	b.ID, b.Tenant, b.Version, b.Author, b.Avatar = "", "", 0, "", nil
	b.CreatedAt, b.UpdatedAt = time.Time{}, time.Time{}
	raw, _ := json.Marshal(b)
	var v any
	if json.Unmarshal(raw, &v) == nil {
		raw, _ = json.Marshal(v) // maps in key order, numbers as float64
	}
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}

// FindSame returns the first bot of tenant (by id) whose latest version
// has the content hash hash (see ContentHash); false when there is none.
func FindSame(ctx context.Context, l BotLister, tenant, hash string) (Bot, bool, error) {
	all, err := listAll(ctx, l, tenant)
	if err != nil {
		return Bot{}, false, err
	}
	for _, b := range all {
		if ContentHash(b) == hash {
			return b, true, nil
		}
	}
	return Bot{}, false, nil
}
