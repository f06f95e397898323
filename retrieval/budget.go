package retrieval

import (
	"fmt"
	"math"
)

// BudgetPolicy splits a context's token budget between its sections. Shares
// are fractions of what is left after the new message and the persona; what
// a section leaves unused flows to the others (spill-over), so a share is a
// guarantee while others compete, not a cap when they don't.
type BudgetPolicy struct {
	// MessageOverhead is the template cost of one chat message in tokens
	// (role markers and separators), added per message (default 4).
	MessageOverhead int `yaml:"message_overhead" json:"message_overhead,omitempty"`
	// RecentShare is the share of the recent window, the last turns verbatim
	// (default 0.15). RecentMaxTokens caps it in tokens (default 0: no cap),
	// RecentMaxTurns in turns (default 40).
	RecentShare     float64 `yaml:"recent_share" json:"recent_share,omitempty"`
	RecentMaxTokens int     `yaml:"recent_max_tokens" json:"recent_max_tokens,omitempty"`
	RecentMaxTurns  int     `yaml:"recent_max_turns" json:"recent_max_turns,omitempty"`
	// SummaryShare is the share of long-term memory (summaries) (default 0.2).
	SummaryShare float64 `yaml:"summary_share" json:"summary_share,omitempty"`
	// PersonaShare caps the persona (system prompt and post-history
	// instructions) (default 0.5).
	PersonaShare float64 `yaml:"persona_share" json:"persona_share,omitempty"`
	// LoreShare is the share of a bot's lorebook entries, constant and
	// triggered (default 0.1).
	LoreShare float64 `yaml:"lore_share" json:"lore_share,omitempty"`
	// The rest goes to recalled turns.
}

func (p BudgetPolicy) withDefaults() BudgetPolicy {
	if p.MessageOverhead == 0 {
		p.MessageOverhead = 4
	}
	if p.RecentShare == 0 {
		p.RecentShare = 0.15
	}
	if p.RecentMaxTurns == 0 {
		p.RecentMaxTurns = 40
	}
	if p.SummaryShare == 0 {
		p.SummaryShare = 0.2
	}
	if p.PersonaShare == 0 {
		p.PersonaShare = 0.5
	}
	if p.LoreShare == 0 {
		p.LoreShare = 0.1
	}
	return p
}

// Validate reports a policy that cannot work.
func (p BudgetPolicy) Validate() error {
	if p.MessageOverhead < 0 || p.RecentMaxTokens < 0 || p.RecentMaxTurns < 0 {
		return fmt.Errorf("retrieval: budget message_overhead, recent_max_tokens and recent_max_turns must be >= 0")
	}
	for _, s := range []struct {
		name string
		v    float64
	}{{"recent_share", p.RecentShare}, {"summary_share", p.SummaryShare}, {"persona_share", p.PersonaShare}, {"lore_share", p.LoreShare}} {
		if s.v < 0 || s.v > 1 || math.IsNaN(s.v) {
			return fmt.Errorf("retrieval: budget %s must be in [0,1], got %v", s.name, s.v)
		}
	}
	if sum := p.RecentShare + p.SummaryShare + p.LoreShare; sum > 1 {
		return fmt.Errorf("retrieval: budget recent_share + summary_share + lore_share must be <= 1, got %v", sum)
	}
	return nil
}

// Allocation is how many tokens each flexible section may use.
type Allocation struct {
	Recent   int
	Summary  int
	Lore     int
	Recalled int
}

// Allocate splits free tokens (the budget less the message and persona)
// between the sections, given how much the recent window and the summaries
// could use at most (their demand). Recall has unbounded demand and takes the
// rest, including what the others leave unused. Pure.
func (p BudgetPolicy) Allocate(free, recentDemand, summaryDemand int) Allocation {
	return p.AllocateWithLore(free, recentDemand, summaryDemand, 0)
}

// AllocateWithLore is Allocate with a lore section: it gets up to its share
// of free tokens, capped by its demand, like the recent window and the
// summaries; what it leaves unused goes to recall. Pure.
func (p BudgetPolicy) AllocateWithLore(free, recentDemand, summaryDemand, loreDemand int) Allocation {
	p = p.withDefaults()
	if free <= 0 {
		return Allocation{}
	}
	recentCap := int(float64(free) * p.RecentShare)
	if p.RecentMaxTokens > 0 {
		recentCap = min(recentCap, p.RecentMaxTokens)
	}
	a := Allocation{
		Recent:  min(recentDemand, recentCap),
		Summary: min(summaryDemand, int(float64(free)*p.SummaryShare)),
		Lore:    max(0, min(loreDemand, int(float64(free)*p.LoreShare))),
	}
	a.Recalled = free - a.Recent - a.Summary - a.Lore
	return a
}
