package retrieval

import (
	"cmp"
	"slices"
	"strings"
)

// Lorebook supplies a bot's world info: the entries that trigger for the
// scanned texts. retrieval declares it so that it need not know bots; the
// bots package adapts its lorebooks to it.
type Lorebook interface {
	// Triggered returns the entries to insert for scan: scan[0] is the new
	// message, scan[1:] the recent turns, newest first. Constant entries are
	// always among them.
	Triggered(scan []string) []LoreItem
}

// LoreBudgeter is the optional ability of a Lorebook to cap its entries in
// tokens (a Character Card's token_budget). The lore section then takes at
// most that many tokens even when its share would allow more.
type LoreBudgeter interface {
	LoreTokenBudget() int
}

// LoreItem is one lorebook entry as the assembler inserts it.
type LoreItem struct {
	ID      int
	Name    string
	Content string
	// Constant entries are always inserted; they render beside the
	// persona, so they belong to the stable prefix of every prompt.
	Constant bool
	// Before is the Character Card position before_char: a constant entry
	// renders before the persona instead of after it; a triggered one at
	// the start of the part of the prompt that changes from reply to reply
	// (before the summaries) instead of at its end (after the recalled
	// turns, closest to the message). False is after_char, the default.
	Before bool
	// Order is the insertion order (lower first); Priority decides what is
	// dropped when the lore does not fit (lower first).
	Order, Priority int
	// Reasons say why the entry triggered (which key matched where).
	Reasons []string
}

// LoreReport says which lorebook entry went into a context and why.
type LoreReport struct {
	ID       int    `json:"id"`
	Name     string `json:"name,omitempty"`
	Tokens   int    `json:"tokens"`
	Constant bool   `json:"constant"`
	// Section is where the entry is: lore_constant_before, lore_constant,
	// lore_before or lore.
	Section string   `json:"section"`
	Reasons []string `json:"reasons"`
}

// Headings of the lore sections: constant entries beside the persona,
// triggered entries in the part that changes from reply to reply.
const (
	loreConstantHeading  = "World info:"
	loreTriggeredHeading = "World info relevant now:"
)

// loreKind is which of the four lore sections an entry goes to, in prompt
// order.
type loreKind int

const (
	loreConstantBefore loreKind = iota
	loreConstantAfter
	loreTriggeredBefore
	loreTriggeredAfter
	loreKinds
)

func kindOf(it LoreItem) loreKind {
	switch {
	case it.Constant && it.Before:
		return loreConstantBefore
	case it.Constant:
		return loreConstantAfter
	case it.Before:
		return loreTriggeredBefore
	}
	return loreTriggeredAfter
}

func (k loreKind) section() string {
	return [...]string{SectionLoreConstantBefore, SectionLoreConstant, SectionLoreBefore, SectionLore}[k]
}

func (k loreKind) heading() string {
	if k <= loreConstantAfter {
		return loreConstantHeading
	}
	return loreTriggeredHeading
}

// loreItem is a LoreItem with its content trimmed and its cost: a newline
// then the content (an upper bound of the exact count, as the content
// starts with a non-space and the pre-splitting never joins a newline with
// what follows).
type loreItem struct {
	LoreItem
	cost int
}

// loreScan is what the lorebook scans: the message, then up to depth recent
// turns, newest first.
func loreScan(message string, last []string, depth int) []string {
	scan := []string{message}
	for i := len(last) - 1; i >= 0 && len(scan) <= depth; i-- {
		scan = append(scan, last[i])
	}
	return scan
}

// loreItems prices the triggered items, leaving out empty contents, in
// prompt order (insertion order, then id).
func (a *Assembler) loreItems(items []LoreItem) []loreItem {
	out := make([]loreItem, 0, len(items))
	for _, it := range items {
		it.Content = strings.TrimSpace(it.Content)
		if it.Content == "" {
			continue
		}
		out = append(out, loreItem{LoreItem: it, cost: 1 + a.countText(it.Content)})
	}
	slices.SortStableFunc(out, func(x, y loreItem) int {
		return cmp.Or(cmp.Compare(x.Order, y.Order), cmp.Compare(x.ID, y.ID))
	})
	return out
}

// loreCost is the accounted tokens of the lore sections holding items,
// the cost of opening each included: the system message's overhead for
// the first section of the message, a section join for every other (the
// persona, when there is one, is already in).
func (a *Assembler) loreCost(items []loreItem, persona bool, overhead int) int {
	var t loreTotals
	for _, it := range items {
		t.add(it, 1)
	}
	return a.loreTotalCost(t, persona, overhead)
}

// loreTotals sums the items of each lore section.
type loreTotals [loreKinds]struct {
	tokens, n int
}

func (t *loreTotals) add(it loreItem, sign int) {
	k := kindOf(it.LoreItem)
	t[k].tokens += sign * it.cost
	t[k].n += sign
}

func (a *Assembler) loreTotalCost(t loreTotals, persona bool, overhead int) int {
	cost, open := 0, persona
	for k := range loreKinds {
		if t[k].n == 0 {
			continue
		}
		if open {
			cost += sectionJoinCost
		} else {
			cost += overhead
		}
		open = true
		cost += a.count(k.heading()) + t[k].tokens
	}
	return cost
}

// fitLore drops entries until the lore costs at most budget tokens: the
// lowest priority first; at equal priority a triggered entry before a
// constant one (which keeps the prompt's prefix stable), then the last in
// insertion order. The kept entries stay in prompt order.
func (a *Assembler) fitLore(items []loreItem, budget int, persona bool, overhead int) (kept, dropped []loreItem) {
	var t loreTotals
	for _, it := range items {
		t.add(it, 1)
	}
	order := make([]int, len(items))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(x, y int) int {
		switch {
		case dropFirst(items[x], items[y]):
			return -1
		case dropFirst(items[y], items[x]):
			return 1
		}
		return 0
	})
	drop := make([]bool, len(items))
	for _, i := range order {
		if a.loreTotalCost(t, persona, overhead) <= budget {
			break
		}
		drop[i] = true
		t.add(items[i], -1)
		dropped = append(dropped, items[i])
	}
	kept = make([]loreItem, 0, len(items))
	for i, it := range items {
		if !drop[i] {
			kept = append(kept, it)
		}
	}
	return kept, dropped
}

// dropFirst reports whether x goes before y when entries are dropped.
func dropFirst(x, y loreItem) bool {
	if x.Priority != y.Priority {
		return x.Priority < y.Priority
	}
	if x.Constant != y.Constant {
		return !x.Constant
	}
	if x.Order != y.Order {
		return x.Order > y.Order
	}
	return x.ID > y.ID
}

// renderLore renders the items of kept that go to section kind under its
// heading and returns the text, its accounted cost without the opening,
// and the number of items; "" when there are none.
func (a *Assembler) renderLore(kept []loreItem, kind loreKind) (string, int, int) {
	heading := kind.heading()
	var b strings.Builder
	cost, n := a.count(heading), 0
	b.WriteString(heading)
	for _, it := range kept {
		if kindOf(it.LoreItem) != kind {
			continue
		}
		b.WriteString("\n")
		b.WriteString(it.Content)
		cost += it.cost
		n++
	}
	if n == 0 {
		return "", 0, 0
	}
	return b.String(), cost, n
}

// loreReports reports kept in prompt order: the constant entries (before
// the persona, after it), then the triggered ones (before the summaries,
// after the recalled turns).
func loreReports(kept []loreItem) []LoreReport {
	out := make([]LoreReport, 0, len(kept))
	kept = slices.Clone(kept)
	slices.SortStableFunc(kept, func(x, y loreItem) int {
		return cmp.Compare(kindOf(x.LoreItem), kindOf(y.LoreItem))
	})
	for _, it := range kept {
		reasons := it.Reasons
		if reasons == nil {
			reasons = []string{}
		}
		out = append(out, LoreReport{ID: it.ID, Name: it.Name, Tokens: it.cost, Constant: it.Constant,
			Section: kindOf(it.LoreItem).section(), Reasons: reasons})
	}
	return out
}
