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
	// Constant entries are always inserted; they render right after the
	// persona, so they belong to the stable prefix of every prompt.
	Constant bool
	// Order is the insertion order (lower first); Priority decides what is
	// dropped when the lore does not fit (lower first).
	Order, Priority int
	// Reasons say why the entry triggered (which key matched where).
	Reasons []string
}

// LoreReport says which lorebook entry went into a context and why.
type LoreReport struct {
	ID       int      `json:"id"`
	Name     string   `json:"name,omitempty"`
	Tokens   int      `json:"tokens"`
	Constant bool     `json:"constant"`
	Reasons  []string `json:"reasons"`
}

// Headings of the two lore sections: constant entries after the persona,
// triggered entries after the summaries.
const (
	loreConstantHeading  = "World info:"
	loreTriggeredHeading = "World info relevant now:"
)

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

// loreCost is the accounted tokens of the two lore sections holding items,
// the cost of opening each included: the system message's overhead when
// nothing precedes it, a section join otherwise. Without a persona the
// triggered section is priced as opening the message (an upper bound: the
// summaries may precede it).
func (a *Assembler) loreCost(items []loreItem, persona bool, overhead int) int {
	var t loreTotals
	for _, it := range items {
		t.add(it, 1)
	}
	return a.loreTotalCost(t, persona, overhead)
}

// loreTotals sums the items of the two lore sections.
type loreTotals struct {
	constant, triggered int // tokens
	nc, nt              int // items
}

func (t *loreTotals) add(it loreItem, sign int) {
	if it.Constant {
		t.constant += sign * it.cost
		t.nc += sign
	} else {
		t.triggered += sign * it.cost
		t.nt += sign
	}
}

func (a *Assembler) loreTotalCost(t loreTotals, persona bool, overhead int) int {
	open := func(before bool) int {
		if before {
			return sectionJoinCost
		}
		return overhead
	}
	cost := 0
	if t.nc > 0 {
		cost += open(persona) + a.count(loreConstantHeading) + t.constant
	}
	if t.nt > 0 {
		cost += open(persona || t.nc > 0) + a.count(loreTriggeredHeading) + t.triggered
	}
	return cost
}

// fitLore drops entries until the lore costs at most budget tokens: the
// lowest priority first; at equal priority a triggered entry before a
// constant one (which keeps the prompt's prefix stable), then the last in
// insertion order. The kept entries stay in prompt order.
func (a *Assembler) fitLore(items []loreItem, budget int, persona bool, overhead int) []loreItem {
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
	dropped := make([]bool, len(items))
	for _, i := range order {
		if a.loreTotalCost(t, persona, overhead) <= budget {
			break
		}
		dropped[i] = true
		t.add(items[i], -1)
	}
	kept := make([]loreItem, 0, len(items))
	for i, it := range items {
		if !dropped[i] {
			kept = append(kept, it)
		}
	}
	return kept
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

// renderLore renders the constant (or triggered) items of kept under their
// heading and returns the text, its accounted cost without the opening, and
// the number of items; "" when there are none.
func (a *Assembler) renderLore(kept []loreItem, constant bool) (string, int, int) {
	heading := loreTriggeredHeading
	if constant {
		heading = loreConstantHeading
	}
	var b strings.Builder
	cost, n := a.count(heading), 0
	b.WriteString(heading)
	for _, it := range kept {
		if it.Constant != constant {
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

// loreReports reports kept in prompt order: constant entries, then the
// triggered ones.
func loreReports(kept []loreItem) []LoreReport {
	out := make([]LoreReport, 0, len(kept))
	kept = slices.Clone(kept)
	slices.SortStableFunc(kept, func(x, y loreItem) int {
		if x.Constant != y.Constant {
			if x.Constant {
				return -1
			}
			return 1
		}
		return 0
	})
	for _, it := range kept {
		reasons := it.Reasons
		if reasons == nil {
			reasons = []string{}
		}
		out = append(out, LoreReport{ID: it.ID, Name: it.Name, Tokens: it.cost, Constant: it.Constant, Reasons: reasons})
	}
	return out
}
