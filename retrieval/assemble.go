package retrieval

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/longmem/longmem/memory"
)

// Section names of a context, in prompt order.
const (
	// SectionLoreConstantBefore holds the constant lorebook entries placed
	// before_char: before the persona, in the first system message.
	SectionLoreConstantBefore = "lore_constant_before"
	SectionPersona            = "persona"
	// SectionLoreConstant holds the lorebook's constant entries placed
	// after_char (the default), right after the persona in the first system
	// message (part of the stable prefix).
	SectionLoreConstant = "lore_constant"
	// SectionLoreBefore holds the triggered entries placed before_char: at
	// the start of the system message that changes from reply to reply,
	// before the summaries.
	SectionLoreBefore = "lore_before"
	SectionSummary    = "summaries"
	SectionRecalled   = "recalled"
	// SectionLore holds the lorebook entries triggered by the message and
	// the recent turns, placed after_char (the default): at the end of that
	// system message, after the recalled turns, closest to the message.
	SectionLore   = "lore"
	SectionRecent = "recent"
	// SectionPostHistory is the bot's post-history instructions, a system
	// message right before the new message.
	SectionPostHistory = "post_history"
	SectionMessage     = "message"
)

// Message is one chat message in the OpenAI wire shape.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
	Name    string `json:"name,omitempty"`
}

// Request asks for the context of a reply to Message.
type Request struct {
	Tenant         string
	ConversationID string
	Message        Message
	BudgetTokens   int
	// ExcludeRecent puts no recent window in: every earlier turn competes
	// for recall on its merits.
	ExcludeRecent bool
	// Persona is the system prompt text (empty until a bot supplies one).
	Persona string
	// Policy overrides the assembler's budget policy for this request when
	// non-nil.
	Policy *BudgetPolicy
	// NoSummaries leaves the long-term memory section out.
	NoSummaries bool
	// Lore is the bot's lorebook (nil: none). Its entries are scanned for
	// against the message and the last LoreScanDepth turns (0: the message
	// only).
	Lore          Lorebook
	LoreScanDepth int
	// PostHistory is the bot's post-history instructions, sent as a system
	// message right before the new message (empty: none).
	PostHistory string
	// BeforeSeq, when > 0, builds the context as it stood before turn
	// BeforeSeq: turns with seq >= BeforeSeq are neither recent, nor
	// scanned for lore, nor recalled. The chat loop stores the new message
	// first (as turn BeforeSeq) and must not see it twice.
	BeforeSeq int64
}

// Context is an assembled prompt and the account of what is in it.
type Context struct {
	Messages []Message `json:"messages"`
	Report   Report    `json:"report"`
}

// Report says what went into a context, why, and at what token cost.
type Report struct {
	BudgetTokens int             `json:"budget_tokens"`
	UsedTokens   int             `json:"used_tokens"`
	Sections     []SectionReport `json:"sections"`
	Turns        []TurnReport    `json:"turns"`
	// Dropped lists what was wanted but left out for lack of room, each
	// with its section, tokens and reasons (the last says how much room
	// there was): lorebook entries that triggered (section "lore", Entry
	// set), summaries relevant to the message (section "summaries",
	// FromSeq/ToSeq set), then the best recall candidates (section
	// "recalled", at most 20, in the order they would have been taken).
	Dropped []TurnReport `json:"dropped"`
	// Summaries lists the summaries in the long-term memory section and the
	// turns each covers.
	Summaries []SummaryReport `json:"summaries"`
	// Lore lists the lorebook entries in the context (constant ones first),
	// each with why it triggered.
	Lore []LoreReport `json:"lore"`
	// IndexedThrough is the index watermark the recall used.
	IndexedThrough int64 `json:"indexed_through"`
	// Degraded says what recall went without: the index or the embedder
	// failed, and the context holds what the rest could give (absent when
	// nothing failed).
	Degraded []string `json:"degraded,omitempty"`
}

// SectionReport is the cost of one section. Tokens include the per-message
// overhead of the messages the section owns; the system message's overhead
// counts towards its first section.
type SectionReport struct {
	Name   string `json:"name"`
	Tokens int    `json:"tokens"`
	Items  int    `json:"items"`
}

// TurnReport says why one turn is in (or why it, a lorebook entry or a
// summary was dropped).
type TurnReport struct {
	Seq     int64    `json:"seq"`
	Section string   `json:"section"`
	Score   float64  `json:"score"`
	Tokens  int      `json:"tokens"`
	Reasons []string `json:"reasons"`
	// Entry names a dropped lorebook entry ("#ID name").
	Entry string `json:"entry,omitempty"`
	// FromSeq and ToSeq are the turns a dropped summary covers.
	FromSeq int64 `json:"from_seq,omitempty"`
	ToSeq   int64 `json:"to_seq,omitempty"`
}

// ReasonNoRoom is the last reason of a dropped item: its tokens, the room
// its section, and the room that section had.
const ReasonNoRoom = "no room: needs %d tokens; the %s section had %d in all"

// loreEntryName is how a dropped entry is named in the report.
func loreEntryName(it LoreItem) string {
	if it.Name == "" {
		return fmt.Sprintf("#%d", it.ID)
	}
	return fmt.Sprintf("#%d %s", it.ID, it.Name)
}

// AssemblerConfig configures context assembly. The zero value works.
type AssemblerConfig struct {
	Budget BudgetPolicy `yaml:"budget" json:"budget"`
	Rank   RankConfig   `yaml:"rank" json:"rank"`
	// NoSummaries leaves summaries out of every context.
	NoSummaries bool `yaml:"no_summaries" json:"no_summaries,omitempty"`
	// SummariesRelevantOnly: long-term memory holds only the summaries
	// relevant to the message (SelectRelevantSummaries); by default, when
	// none is, it holds the coarse cover of the whole history
	// (SelectSummaries) instead, within SummaryCoverShare of the summary
	// room.
	SummariesRelevantOnly bool `yaml:"summaries_relevant_only" json:"summaries_relevant_only,omitempty"`
	// SummaryCoverShare is the fraction of the summaries' share of the
	// budget the coarse cover (the gist of the whole history) may take
	// when no summary is relevant to the message (default 0.25). Measured: a full-size cover
	// displaces recalled turns (MemDaily conditional roles: evidence recall
	// 0.825 at 1 against 0.880 at 0.25 and 0.890 without summaries; LoCoMo
	// unchanged); a quarter keeps a short gist of the distant past.
	SummaryCoverShare float64 `yaml:"summary_cover_share" json:"summary_cover_share,omitempty"`
	// CandidateLimit is how many hits each recall list (lexical, dense)
	// returns before fusion (default 200).
	CandidateLimit int `yaml:"candidate_limit" json:"candidate_limit,omitempty"`
	// SessionHits is how many lexical hits score the sessions (default
	// 1,000; see RankConfig.SessionWeight). The best CandidateLimit of them,
	// by their own score plus their session's, go on to ranking.
	SessionHits int `yaml:"session_hits" json:"session_hits,omitempty"`
	// QueryContextTurns adds the last N recent turns to the query at
	// QueryContextWeight, so a terse message ("and then?") still recalls
	// what it continues (default 0: off; weight default 0.3). On LoCoMo,
	// where questions do not continue the last turn, it costs recall.
	QueryContextTurns int `yaml:"query_context_turns" json:"query_context_turns,omitempty"`
	// PhraseWeight is the query weight of adjacent-term pairs (default 0.5;
	// negative disables).
	PhraseWeight       float64 `yaml:"phrase_weight" json:"phrase_weight,omitempty"`
	QueryContextWeight float64 `yaml:"query_context_weight" json:"query_context_weight,omitempty"`
	// ChatterWeight scales the query weight of the message's sentences
	// that ask nothing when another sentence does ask (see Sentences):
	// the question inside a rambling message counts most (default 0.3;
	// 1 weighs every sentence alike).
	ChatterWeight float64 `yaml:"chatter_weight" json:"chatter_weight,omitempty"`
	// Layout orders the messages. "cache" (default) keeps what changes
	// from one reply to the next at the end, for the backend's prefix
	// cache: a system message with the persona and the constant lore, the
	// recent window, then a system message with the summaries, triggered
	// lore and recalled turns, then the new message. "chronological" puts
	// everything the assembler chose in one system message before the
	// recent window (oldest material first).
	Layout string `yaml:"layout" json:"layout,omitempty"`
	// RecentBlock makes the recent window's start move in blocks of this
	// many seqs (default 8; 1 moves it with every turn): between two
	// replies the window then only grows at its end, so the prompt up to
	// its last turn stays byte-identical. The window holds up to
	// RecentBlock-1 turns fewer than the policy allows.
	RecentBlock int `yaml:"recent_block" json:"recent_block,omitempty"`
}

// Layouts of AssemblerConfig.Layout.
const (
	LayoutCache         = "cache"
	LayoutChronological = "chronological"
)

// Validate reports a configuration that cannot work.
func (c AssemblerConfig) Validate() error {
	if err := c.Budget.Validate(); err != nil {
		return err
	}
	if err := c.Rank.Validate(); err != nil {
		return err
	}
	if c.SummaryCoverShare < 0 || c.SummaryCoverShare > 1 {
		return fmt.Errorf("retrieval: summary_cover_share %v must be in [0, 1]", c.SummaryCoverShare)
	}
	if c.CandidateLimit < 0 || c.SessionHits < 0 || c.QueryContextTurns < 0 || c.RecentBlock < 0 {
		return errors.New("retrieval: candidate_limit, session_hits, query_context_turns and recent_block must be >= 0")
	}
	if err := checkNumbers("retrieval: ", []numberField{
		{"phrase_weight", c.PhraseWeight, true},
		{"query_context_weight", c.QueryContextWeight, false}, {"chatter_weight", c.ChatterWeight, false},
	}); err != nil {
		return err
	}
	if c.ChatterWeight > 1 {
		return fmt.Errorf("retrieval: chatter_weight must be in [0, 1], got %v", c.ChatterWeight)
	}
	switch c.Layout {
	case "", LayoutCache, LayoutChronological:
	default:
		return fmt.Errorf("retrieval: layout %q: want cache or chronological", c.Layout)
	}
	return nil
}

func (c AssemblerConfig) withDefaults() AssemblerConfig {
	c.Budget = c.Budget.withDefaults()
	if c.CandidateLimit == 0 {
		c.CandidateLimit = 200
	}
	if c.SessionHits == 0 {
		c.SessionHits = 1000
	}
	if c.Layout == "" {
		c.Layout = LayoutCache
	}
	if c.SummaryCoverShare == 0 {
		c.SummaryCoverShare = 0.25
	}
	if c.ChatterWeight == 0 {
		c.ChatterWeight = 0.3
	}
	if c.RecentBlock == 0 {
		c.RecentBlock = 8
	}
	if c.PhraseWeight == 0 {
		c.PhraseWeight = 0.5
	}
	if c.QueryContextWeight == 0 {
		c.QueryContextWeight = 0.3
	}
	return c
}

// maxLaterTurns bounds how many turns after Request.BeforeSeq are read
// (and dropped) to find the recent window before it.
const maxLaterTurns = 1000

// Assembler builds token-budgeted contexts. Safe for concurrent use.
type Assembler struct {
	cfg      AssemblerConfig
	store    memory.Store
	index    Index
	indexer  *Indexer
	tok      Tokenizer
	analyzer *Analyzer
	embedder Embedder

	mu        sync.Mutex
	costCache map[string]int // tokens of short strings: names, date headers

	termMu    sync.Mutex
	termCache map[uint64]termCacheEntry // distinct terms of summary contents, by content hash

	degradedIndex, degradedEmbedder atomic.Uint64 // contexts assembled without them
}

// NewAssembler wires an Assembler. embedder may be nil (lexical recall only).
func NewAssembler(cfg AssemblerConfig, store memory.Store, indexer *Indexer, tok Tokenizer) *Assembler {
	return &Assembler{cfg: cfg.withDefaults(), store: store, index: indexer.index, indexer: indexer, tok: tok,
		analyzer: indexer.analyzer, embedder: indexer.embedder, costCache: map[string]int{},
		termCache: map[uint64]termCacheEntry{}}
}

// count returns the tokens of a short, recurring string, cached.
func (a *Assembler) count(s string) int {
	a.mu.Lock()
	n, ok := a.costCache[s]
	a.mu.Unlock()
	if ok {
		return n
	}
	n = a.tok.Count(s)
	a.mu.Lock()
	if len(a.costCache) > 10000 {
		clear(a.costCache)
	}
	a.costCache[s] = n
	a.mu.Unlock()
	return n
}

// maxCachedText is the longest text whose count is cached (bytes): names,
// headers and the usual lore entries, never long texts that would make the
// cache hold megabytes.
const maxCachedText = 2048

// countText returns the tokens of s, cached when s is short.
func (a *Assembler) countText(s string) int {
	if len(s) > maxCachedText {
		return a.tok.Count(s)
	}
	return a.count(s)
}

// turnMessageCost is the cost of a turn sent verbatim as its own message.
func (a *Assembler) turnMessageCost(t memory.Turn, overhead int) int {
	c := t.Tokens + overhead
	if n := MessageName(t.Name); n != "" {
		c += a.count(n)
	}
	return c
}

// MessageName turns a speaker's name into what the OpenAI wire format
// accepts in a message's name field: 1 to 64 of [a-zA-Z0-9_-], other
// characters as "_" ("Mary Jane" → "Mary_Jane"). A name with no such
// character at all is dropped (the content still says who speaks in
// recalled turns; recent turns keep their role).
func MessageName(name string) string {
	if name == "" {
		return ""
	}
	b := make([]byte, 0, min(len(name), 64))
	useful := false
	for _, r := range name {
		if len(b) == 64 {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-':
			b = append(b, byte(r))
			useful = true
		default:
			b = append(b, '_')
		}
	}
	if !useful {
		return ""
	}
	return string(b)
}

// fitRecent returns the longest suffix of turns whose messages fit in budget.
func (a *Assembler) fitRecent(turns []memory.Turn, budget, overhead int) []memory.Turn {
	used, i := 0, len(turns)
	for i > 0 {
		c := a.turnMessageCost(turns[i-1], overhead)
		if used+c > budget {
			break
		}
		used += c
		i--
	}
	return stickyStart(turns, i, int64(a.cfg.RecentBlock))
}

// stickyStart moves the recent window's start i forward to the first turn
// of a block of `block` seqs (seqs 1..block, block+1..2·block, …), so that
// consecutive replies see a window that only grows at its end until it
// jumps by a block. turns[0] starts a block only when the turn before it
// is in another one, which the slice does not show: it never counts.
// Without such a start after i, i stays.
func stickyStart(turns []memory.Turn, i int, block int64) []memory.Turn {
	if block <= 1 {
		return turns[i:]
	}
	for j := max(i, 1); j < len(turns); j++ {
		if (turns[j].Seq-1)/block != (turns[j-1].Seq-1)/block {
			return turns[j:]
		}
	}
	return turns[i:]
}

// recall finds, scores and packs earlier turns (seq <= maxSeq) into budget
// tokens; it returns them in chronological order with their report entries.
//
// A failure of the embedder leaves vector recall out (noted in rep); one of
// the index is returned as a *DegradedError.
func (a *Assembler) recall(ctx context.Context, req Request, rep *Report, maxSeq, lastSeq, wm int64, budget int, recent []memory.Turn) ([]Doc, []TurnReport, []TurnReport, error) {
	cfg := a.cfg
	// The conversation's sessions, and its newest turn's time: the message
	// is written after it, so periods it names relative to now resolve
	// against it.
	starts, now, err := a.indexer.Sessions(ctx, req.Tenant, req.ConversationID, wm)
	if err != nil {
		return nil, nil, nil, err
	}
	q := Query{Terms: a.analyzer.queryTermsWeighted(req.Message.Content, float32(cfg.PhraseWeight), float32(cfg.ChatterWeight)), Limit: cfg.CandidateLimit, MaxSeq: maxSeq}
	if cfg.Rank.withDefaults().SessionWeight > 0 {
		q.Limit = max(q.Limit, cfg.SessionHits)
	}
	if cfg.QueryContextTurns > 0 && len(recent) > 0 {
		q.Terms = addQueryContext(q.Terms, a.analyzer, recent[max(0, len(recent)-cfg.QueryContextTurns):], cfg.QueryContextWeight)
	}
	if a.embedder != nil {
		vecs, err := a.embedder.Embed(ctx, []string{req.Message.Content})
		switch {
		case err == nil:
			q.Dense = vecs[0]
		case !a.degrade(ctx, rep, degradedErr(PartEmbedder, fmt.Errorf("embed the message: %w", err))):
			return nil, nil, nil, fmt.Errorf("retrieval: embed the message: %w", err)
		}
	}
	res, err := a.index.Search(ctx, ScopedID(req.Tenant, req.ConversationID), q)
	if err != nil {
		return nil, nil, nil, degradedErr(PartIndex, fmt.Errorf("search: %w", err))
	}
	// Only the lexical list is widened for the session stage.
	if len(res.Dense) > cfg.CandidateLimit {
		res.Dense = res.Dense[:cfg.CandidateLimit]
	}
	lexical, sessionOf := a.sessionStage(starts, res.Lexical)
	hitSeqs := make(map[int64]*Candidate, len(lexical)+len(res.Dense))
	var order []int64
	get := func(seq int64) *Candidate {
		c, ok := hitSeqs[seq]
		if !ok {
			c = &Candidate{Seq: seq, Session: sessionOf(seq)}
			hitSeqs[seq] = c
			order = append(order, seq)
		}
		return c
	}
	for _, h := range lexical {
		get(h.Seq).Lexical = h.Score
	}
	for _, h := range res.Dense {
		c := get(h.Seq)
		c.Dense, c.HasDense = h.Score, true
	}
	if len(order) == 0 {
		return nil, nil, nil, nil
	}
	// Fetch hits and their neighbours in one call.
	n := int64(max(cfg.Rank.withDefaults().Neighbours, 0))
	want := make([]int64, 0, len(order)*int(1+2*n))
	for _, seq := range order {
		for s := seq - n; s <= seq+n; s++ {
			if s >= 1 && s <= maxSeq {
				want = append(want, s)
			}
		}
	}
	slices.Sort(want)
	want = slices.Compact(want)
	docs, err := a.index.Get(ctx, ScopedID(req.Tenant, req.ConversationID), want, false)
	if err != nil {
		return nil, nil, nil, degradedErr(PartIndex, fmt.Errorf("get docs: %w", err))
	}
	bySeq := make(map[int64]Doc, len(docs))
	pool := make(map[int64]Candidate, len(docs))
	qterms := make(map[uint32]bool, len(q.Terms))
	for _, t := range q.Terms {
		if t.Weight >= 1 {
			qterms[t.ID] = true
		}
	}
	// The periods the question names: chatter around it ("this week was
	// hectic") restricts nothing.
	periods := TimeRefsAt(askingText(req.Message.Content), now)
	for _, d := range docs {
		bySeq[d.Seq] = d
		pool[d.Seq] = Candidate{Seq: d.Seq, Cost: a.lineCost(d), Key: dupKey(d), Speaker: a.namedIn(d.Name, qterms),
			InTime: inPeriods(d.CreatedAt, periods)}
	}
	hits := make([]Candidate, 0, len(order))
	for _, seq := range order {
		c := *hitSeqs[seq]
		p, ok := pool[seq]
		if !ok {
			continue // forgotten between search and get
		}
		c.Cost, c.Key, c.Speaker, c.InTime = p.Cost, p.Key, p.Speaker, p.InTime
		hits = append(hits, c)
	}
	ranked := Rank(cfg.Rank, hits, pool, lastSeq)

	// Pack greedily; a day header is paid by the first turn of its day.
	used := 0
	days := map[string]bool{}
	var in []Candidate
	var dropped []TurnReport
	for _, c := range ranked {
		d := bySeq[c.Seq]
		cost := c.Cost
		day := dayKey(d.CreatedAt)
		if !days[day] {
			cost += a.count(dayHeader(d.CreatedAt)) + 1
		}
		if used+cost > budget {
			if len(dropped) < 20 {
				dropped = append(dropped, TurnReport{Seq: c.Seq, Section: SectionRecalled, Score: round4(c.Score), Tokens: cost, Reasons: c.Reasons()})
			}
			continue
		}
		used += cost
		days[day] = true
		in = append(in, c)
	}
	// Chronological means by time, then seq: turns of one day share one
	// header even when dates are not monotonic in seq (imported or merged
	// histories). The packing charged one header per day, which the
	// rendering matches; the loop is a safety net that sheds the least
	// valuable turns should the rendering ever cost more.
	chronological := func(x, y Candidate) int {
		if c := bySeq[x.Seq].CreatedAt.Compare(bySeq[y.Seq].CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(x.Seq, y.Seq)
	}
	for len(in) > 0 {
		chrono := slices.Clone(in)
		slices.SortFunc(chrono, chronological)
		docs := make([]Doc, len(chrono))
		for i, c := range chrono {
			docs[i] = bySeq[c.Seq]
		}
		if a.recalledCost(docs)-a.count(recalledHeading) <= budget {
			in = chrono
			break
		}
		in = in[:len(in)-1]
	}
	out := make([]Doc, len(in))
	turns := make([]TurnReport, len(in))
	for i, c := range in {
		out[i] = bySeq[c.Seq]
		turns[i] = TurnReport{Seq: c.Seq, Section: SectionRecalled, Score: round4(c.Score), Tokens: c.Cost, Reasons: c.Reasons()}
	}
	return out, turns, dropped, nil
}

func inPeriods(t time.Time, periods []TimeRef) bool {
	for _, p := range periods {
		if p.Contains(t) {
			return true
		}
	}
	return false
}

// namedIn reports whether every lexical term of a speaker's name is among
// the query's terms.
func (a *Assembler) namedIn(name string, qterms map[uint32]bool) bool {
	if name == "" || len(qterms) == 0 {
		return false
	}
	terms, _ := a.analyzer.TermFreqs(name)
	for _, t := range terms {
		if !qterms[t.ID] {
			return false
		}
	}
	return len(terms) > 0
}

func round4(f float64) float64 { return float64(int64(f*10000+0.5)) / 10000 }

// addQueryContext merges the terms of recent turns into the query at a
// lower weight (a term already in the query keeps its weight).
func addQueryContext(terms []QueryTerm, an *Analyzer, turns []memory.Turn, weight float64) []QueryTerm {
	have := make(map[uint32]bool, len(terms))
	for _, t := range terms {
		have[t.ID] = true
	}
	out := slices.Clone(terms)
	for _, t := range turns {
		for _, qt := range an.QueryTerms(t.Content) {
			if !have[qt.ID] {
				have[qt.ID] = true
				out = append(out, QueryTerm{ID: qt.ID, Weight: float32(weight)})
			}
		}
	}
	slices.SortFunc(out, func(a, b QueryTerm) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// Rendering of recalled turns: grouped under a header per day, one line per
// turn, "Name: content" with the content verbatim, and " [image: caption]"
// after it when the turn has a caption.
const recalledHeading = "Earlier in this conversation (recalled excerpts, oldest first):"

// sectionJoinCost is the token cost of the blank line between sections of
// the system message.
const sectionJoinCost = 1

func dayKey(t time.Time) string { return t.UTC().Format("2006-01-02") }

func dayHeader(t time.Time) string {
	return "[" + t.UTC().Format("Monday, 2 January 2006") + "]"
}

func speaker(d Doc) string {
	if d.Name != "" {
		return d.Name
	}
	return d.Role
}

// RecallLine is how a recalled turn is rendered: its speaker, then its
// content verbatim, then its image caption, ending with a newline.
func RecallLine(d Doc) string {
	var b strings.Builder
	b.Grow(len(d.Name) + len(d.Content) + len(d.Caption) + 16)
	b.WriteString(speaker(d))
	b.WriteString(": ")
	b.WriteString(d.Content)
	if d.Caption != "" {
		b.WriteString(" [image: ")
		b.WriteString(d.Caption)
		b.WriteString("]")
	}
	b.WriteString("\n")
	return b.String()
}

// lineCost is the tokens of a recalled turn's line. Lines start with a
// speaker's name and end with a newline, and the tokenizer's pre-splitting
// never joins a newline with the letter after it, so a section's exact
// count is the sum of its lines' counts (the index counts each line once).
// Docs indexed without a count get an upper bound.
func (a *Assembler) lineCost(d Doc) int {
	if d.LineTokens > 0 {
		return d.LineTokens
	}
	c := d.Tokens + a.count(speaker(d)+":") + 2
	if d.Caption != "" {
		c += a.count(" [image: "+d.Caption+"]") + 1
	}
	return c
}

// recalledCost is renderRecalled's cost without building the text.
func (a *Assembler) recalledCost(docs []Doc) int {
	cost := a.count(recalledHeading + "\n")
	day := ""
	for _, d := range docs {
		if k := dayKey(d.CreatedAt); k != day {
			day = k
			cost += a.count(dayHeader(d.CreatedAt) + "\n")
		}
		cost += a.lineCost(d)
	}
	return cost
}

// renderRecalled renders docs (chronological) and returns the text and its
// cost as accounted (an upper bound of the exact count).
func (a *Assembler) renderRecalled(docs []Doc) (string, int) {
	var b strings.Builder
	b.WriteString(recalledHeading + "\n")
	day := ""
	for _, d := range docs {
		if k := dayKey(d.CreatedAt); k != day {
			day = k
			b.WriteString(dayHeader(d.CreatedAt) + "\n")
		}
		b.WriteString(RecallLine(d))
	}
	return b.String(), a.recalledCost(docs)
}

// systemMessage collects the sections that share the leading system
// message, kept in prompt order (sectionRank) whatever the order they are
// added in.
type systemMessage struct {
	sections []sysSection
}

type sysSection struct {
	name, text  string
	cost, items int
}

// sectionRank is the prompt order of the system message's sections: the
// stable ones (lore placed before the persona, the persona, lore after
// it), then what changes from reply to reply (lore placed before, the
// summaries, the recalled turns, lore placed after).
var sectionRank = map[string]int{
	SectionLoreConstantBefore: 0, SectionPersona: 1, SectionLoreConstant: 2,
	SectionLoreBefore: 3, SectionSummary: 4, SectionRecalled: 5, SectionLore: 6,
}

// add inserts a section at its place in prompt order. The message's cost
// does not depend on the order: one overhead, a join between sections.
func (s *systemMessage) add(name, text string, cost, items int) {
	i := len(s.sections)
	for i > 0 && sectionRank[s.sections[i-1].name] > sectionRank[name] {
		i--
	}
	s.sections = slices.Insert(s.sections, i, sysSection{name, text, cost, items})
}

func (s *systemMessage) empty() bool { return len(s.sections) == 0 }

// cost is the message's accounted tokens, overhead included (0 when empty).
func (s *systemMessage) cost(overhead int) int {
	if s.empty() {
		return 0
	}
	c := overhead + sectionJoinCost*(len(s.sections)-1)
	for _, sec := range s.sections {
		c += sec.cost
	}
	return c
}

// split divides the sections in two messages for the cache layout: the
// stable one (persona and constant lore: the same from one reply to the
// next) and the volatile one (the rest). Without a stable part (no
// persona opened the message: withPersona false) everything is volatile.
func (s systemMessage) split(withPersona bool) (stable, volatile systemMessage) {
	for _, sec := range s.sections {
		if withPersona && (sec.name == SectionPersona || sec.name == SectionLoreConstant || sec.name == SectionLoreConstantBefore) {
			stable.sections = append(stable.sections, sec)
		} else {
			volatile.sections = append(volatile.sections, sec)
		}
	}
	return stable, volatile
}

// reports are the sections' report entries: the message's overhead counts
// towards its first section, a join towards each later one.
func (s systemMessage) reports(overhead int) []SectionReport {
	var out []SectionReport
	for i, sec := range s.sections {
		tokens := sec.cost + sectionJoinCost
		if i == 0 {
			tokens = sec.cost + overhead
		}
		out = append(out, SectionReport{Name: sec.name, Tokens: tokens, Items: sec.items})
	}
	return out
}

func (s *systemMessage) text() string {
	parts := make([]string, len(s.sections))
	for i, sec := range s.sections {
		parts[i] = sec.text
	}
	return strings.Join(parts, "\n\n")
}
