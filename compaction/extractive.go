package compaction

import (
	"cmp"
	"context"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// ProducerExtractive is the Producer of the extractive summarizer.
const ProducerExtractive = "extractive"

// Extractive summarises by picking the most informative sentences of the
// chunk — named entities, dates, times and numbers, first-person facts,
// commitments, feelings — within the token target, and lists them in
// chronological order, each line prefixed with its date and speaker:
//
//	[8 May 2023] Ines: I went to a choir rehearsal.
//
// At level 0, relative dates are resolved against the turn's date:
// "yesterday" becomes "yesterday (7 May 2023)".
//
// It never returns the chunk whole: a level-0 summary is at most a third of
// its chunk's tokens (only when not even one sentence fits does it shorten
// the best one, marked with "…"). At level ≥ 1 it selects among the lower
// summaries' sentences the same way, keeping their date and speaker. It
// handles English and Chinese (sentences end at 。！？ too). Pure, fast and
// deterministic; safe for concurrent use.
type Extractive struct {
	tok Tokenizer
}

var _ Summarizer = (*Extractive)(nil)

// NewExtractive returns an extractive summarizer counting tokens with tok.
func NewExtractive(tok Tokenizer) *Extractive { return &Extractive{tok: tok} }

// candidate is one sentence that may go into the summary.
type candidate struct {
	item, line, sent int    // chronological position
	prefix           string // "[8 May 2023] Ines:"
	text             string
	score            float64
	cost             int // tokens of its own line
	tail             int // tokens when joined to a sibling's line
	words            []string
}

func (c candidate) priority() float64 {
	return c.score / math.Sqrt(float64(max(c.cost, 8)))
}

func (c candidate) before(o candidate) int {
	return cmp.Or(cmp.Compare(c.item, o.item), cmp.Compare(c.line, o.line), cmp.Compare(c.sent, o.sent))
}

// Summarize implements Summarizer.
func (e *Extractive) Summarize(ctx context.Context, in Input) (Output, error) {
	if err := ctx.Err(); err != nil {
		return Output{}, err
	}
	limit := in.TargetTokens
	if in.Level == 0 {
		chunk := 0
		for _, it := range in.Items {
			if it.Tokens > 0 {
				chunk += it.Tokens
			} else {
				chunk += e.tok.Count(it.Content)
			}
		}
		if limit <= 0 || limit > chunk/3 {
			limit = chunk / 3
		}
	}
	limit = max(limit, 1)
	return Output{Content: e.summarize(in, limit), Producer: ProducerExtractive}, nil
}

func (e *Extractive) summarize(in Input, limit int) string {
	cands := e.candidates(in)
	scoreAll(cands)

	// Greedy by priority; ties in chronological order.
	order := make([]int, len(cands))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return cmp.Or(cmp.Compare(cands[b].priority(), cands[a].priority()), cands[a].before(cands[b]))
	})
	var chosen []int
	room := limit
	for _, i := range order {
		c := cands[i]
		cost := c.cost
		if slices.ContainsFunc(chosen, func(j int) bool { return cands[j].item == c.item && cands[j].line == c.line }) {
			cost = c.tail // joins its sibling's line
		}
		if c.score <= 0 || cost > room || duplicates(c, cands, chosen) {
			continue
		}
		chosen = append(chosen, i)
		room -= cost
	}
	// The exact count of the rendering decides; drop the least valuable
	// until it fits (joining lines rarely costs more than their sum).
	for len(chosen) > 0 {
		text := render(cands, chosen)
		if e.tok.Count(text) <= limit {
			return text
		}
		chosen = chosen[:len(chosen)-1]
	}
	// Nothing fits whole (or nothing scored): shorten the best sentence.
	if len(order) > 0 {
		best := cands[order[0]]
		if text := e.shorten(best.prefix, best.text, limit); text != "" {
			return text
		}
	}
	for _, s := range []string{"…", "."} {
		if e.tok.Count(s) <= limit {
			return s
		}
	}
	return "."
}

// candidates lists every sentence of the items with its line prefix.
func (e *Extractive) candidates(in Input) []candidate {
	var out []candidate
	add := func(item, line int, prefix, text string, at time.Time) {
		for s, sent := range splitSentences(text) {
			if in.Level == 0 {
				sent = resolveDates(sent, at)
			}
			c := candidate{item: item, line: line, sent: s, prefix: prefix, text: sent}
			c.cost = e.tok.Count(prefix+" "+sent) + 1
			c.tail = e.tok.Count(" " + sent)
			out = append(out, c)
		}
	}
	for i, it := range in.Items {
		if in.Level == 0 {
			add(i, 0, "["+dateOf(it.From)+"] "+it.Speaker+":", it.Content, it.From)
			continue
		}
		for l, line := range strings.Split(it.Content, "\n") {
			prefix, text := splitPrefix(line)
			if prefix == "" {
				prefix = rangeOf(it.From, it.To)
			}
			add(i, l, prefix, text, time.Time{})
		}
	}
	return out
}

var (
	linePrefix    = regexp.MustCompile(`^\s*(\[[^\]\n]{1,60}\])\s*(.*)$`)
	speakerPrefix = regexp.MustCompile(`^([^\s:：.!?。！？\[\]][^:：.!?。！？\[\]]{0,39}?)[:：]\s*(\S.*)$`)
)

// splitPrefix parses a summary line "[date] Speaker: text" (or "[date]
// text") into its prefix and text; a line without a date has no prefix.
func splitPrefix(line string) (prefix, text string) {
	m := linePrefix.FindStringSubmatch(line)
	if m == nil {
		return "", line
	}
	prefix, text = m[1], m[2]
	if s := speakerPrefix.FindStringSubmatch(text); s != nil && len(strings.Fields(s[1])) <= 3 {
		prefix += " " + s[1] + ":"
		text = s[2]
	}
	return prefix, text
}

// render writes the chosen sentences chronologically, one line per source
// line, each opening with its prefix.
func render(cands []candidate, chosen []int) string {
	idx := slices.Clone(chosen)
	slices.SortFunc(idx, func(a, b int) int { return cands[a].before(cands[b]) })
	var b strings.Builder
	for n, i := range idx {
		c := cands[i]
		if n > 0 {
			p := cands[idx[n-1]]
			if p.item == c.item && p.line == c.line {
				b.WriteString(" ")
				b.WriteString(c.text)
				continue
			}
			b.WriteString("\n")
		}
		b.WriteString(c.prefix)
		b.WriteString(" ")
		b.WriteString(c.text)
	}
	return b.String()
}

// shorten fits one sentence into limit tokens: whole with its prefix when
// it fits, else its start, with the prefix when there is room for it,
// ending with "…". Empty when not even one word fits.
func (e *Extractive) shorten(prefix, text string, limit int) string {
	if whole := prefix + " " + text; e.tok.Count(whole) <= limit {
		return whole
	}
	words := strings.Fields(text)
	for _, p := range []string{prefix + " ", ""} {
		if e.tok.Count(p+"…") > limit {
			continue
		}
		lo, hi := 0, len(words) // largest n with p + words[:n] + "…" within limit
		for lo < hi {
			mid := (lo + hi + 1) / 2
			if e.tok.Count(p+strings.Join(words[:mid], " ")+"…") <= limit {
				lo = mid
			} else {
				hi = mid - 1
			}
		}
		if lo > 0 {
			return p + strings.Join(words[:lo], " ") + "…"
		}
	}
	return ""
}

// duplicates reports whether c says what a chosen sentence already says:
// the same words, or content words overlapping by 70% or more.
func duplicates(c candidate, cands []candidate, chosen []int) bool {
	for _, i := range chosen {
		o := cands[i]
		if strings.EqualFold(o.text, c.text) {
			return true
		}
		if len(c.words) < 3 || len(o.words) < 3 {
			continue
		}
		inter := 0
		for _, w := range c.words {
			if slices.Contains(o.words, w) {
				inter++
			}
		}
		union := len(c.words) + len(o.words) - inter
		if float64(inter) >= 0.7*float64(union) {
			return true
		}
	}
	return false
}

// Word lists of the scorer (lowercase).
var (
	stopWords = wordSet(`a an the and or but if so of to in on at by for with from as into about than then
		is am are was were be been being do does did have has had having will would shall should can could may might must
		i me my mine we us our you your he him his she her it its they them their this that these those there here
		what which who whom whose when where why how all any both each few more most other some such not only own same
		too very just also s t don doesn didn isn wasn aren weren won wouldn can't don't i'm i've i'll i'd it's that's
		you're you've you'll we're we've they're there's what's let's gonna really like get got go going went one`)
	fillerWords = wordSet(`thanks thank thx ty wow nice cool great awesome amazing hi hello hey bye goodbye lol haha hahaha
		ok okay yeah yes yep no nope sure oh ah um hmm wow good glad sounds sound totally definitely absolutely
		pic picture photo omg aww cute love lovely fun welcome congrats congratulations well right true`)
	capStop = wordSet(`i i'm i'll i've i'd ok okay oh hey hi hello wow yes no yeah thanks thank lol haha omg aww
		so and but the a an it that this what how why when where who my we you he she they sure well`)
	months = wordSet(`january february march april may june july august september october november december
		jan feb mar apr jun jul aug sep sept oct nov dec`)
	weekdays  = wordSet(`monday tuesday wednesday thursday friday saturday sunday weekend`)
	relDays   = wordSet(`yesterday today tomorrow tonight ago`)
	relUnits  = wordSet(`week month year night weekend summer winter spring fall autumn morning evening`)
	relWords  = wordSet(`last next this`)
	firstPers = wordSet(`i i'm i've i'd i'll my mine myself we we're we've our ours`)
	commitPhr = []string{"i will", "i'll", "we will", "we'll", "i'm going to", "i am going to", "we're going to",
		"gonna", "promise", "plan to", "planning to", "i plan", "intend to", "can't wait to", "let's", "next time",
		"i'm gonna", "will be", "going to"}
	feelWords = wordSet(`feel feels felt feeling happy sad excited proud scared afraid worried anxious angry upset grateful
		thankful lonely nervous stressed hopeful relieved love loved hate hated miss missed enjoy enjoyed`)

	zhDate    = regexp.MustCompile(`[0-9０-９一二三四五六七八九十两]+\s*[年月日号点岁]|昨天|今天|明天|前天|后天|去年|今年|明年|上周|下周|本周|周末|星期|上个月|下个月|早上|晚上`)
	zhCommit  = regexp.MustCompile(`会|要|答应|打算|计划|一定|保证|准备|约好`)
	zhFeel    = regexp.MustCompile(`开心|难过|喜欢|爱|担心|害怕|高兴|激动|感动|伤心|生气|想念|紧张`)
	zhFiller  = regexp.MustCompile(`^(谢谢|哈哈+|你好|好的|嗯+|哇|太棒了|真好|不错|好啊|是的|对|没事|再见|晚安|早安)[啊呀哦吧！!。.～~]*$`)
	digitWord = regexp.MustCompile(`\d`)
)

func wordSet(s string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(s) {
		m[w] = true
	}
	return m
}

// scoreAll scores every candidate; entities are capitalised words seen
// inside a sentence anywhere in the chunk (so a name opening a sentence
// counts when it appears elsewhere too).
func scoreAll(cands []candidate) {
	entities := map[string]bool{}
	split := make([][]string, len(cands))
	for i := range cands {
		split[i] = wordsOf(cands[i].text)
		for k, w := range split[i] {
			if k > 0 && isEntityWord(w) {
				entities[w] = true
			}
		}
	}
	// sentences counts, per entity, the sentences naming it: a name said
	// once is a detail no other sentence will carry.
	sentences := map[string]int{}
	for i := range cands {
		seen := map[string]bool{}
		for _, w := range split[i] {
			if entities[w] && !seen[w] {
				seen[w] = true
				sentences[w]++
			}
		}
	}
	for i := range cands {
		cands[i].score, cands[i].words = score(cands[i].text, split[i], entities)
		if cands[i].score <= 0 {
			continue
		}
		rare := 0
		for _, w := range split[i] {
			if sentences[w] == 1 {
				rare++
			}
		}
		cands[i].score += 0.75 * float64(min(rare, 2))
	}
}

func isEntityWord(w string) bool {
	r, _ := utf8.DecodeRuneInString(w)
	if !unicode.IsUpper(r) {
		return false
	}
	lw := strings.ToLower(w)
	return !capStop[lw] && !months[lw] && !weekdays[lw]
}

// score rates one sentence and returns its content words (lowercase).
func score(text string, words []string, entities map[string]bool) (float64, []string) {
	var ents, dates, first, commit, feel, content, plain int
	seenEnt := map[string]bool{}
	var contentWords []string
	lower := make([]string, len(words))
	for k, w := range words {
		lw := strings.ToLower(w)
		lower[k] = lw
		if (k > 0 && isEntityWord(w)) || (k == 0 && entities[w]) {
			if !seenEnt[lw] {
				seenEnt[lw] = true
				ents++
			}
		}
		switch {
		case months[lw] && isUpperStart(w) && (lw != "may" || k > 0), weekdays[lw], relDays[lw]:
			dates++
		case digitWord.MatchString(w):
			dates++
		case relUnits[lw] && k > 0 && relWords[lower[k-1]]:
			dates++
		}
		if firstPers[lw] {
			first = 1
		}
		if feelWords[lw] {
			feel = 1
		}
		if !stopWords[lw] && !fillerWords[lw] && !digitWord.MatchString(w) && utf8.RuneCountInString(w) > 1 {
			content++
			contentWords = append(contentWords, lw)
			if !seenEnt[lw] {
				plain++
			}
		}
	}
	joined := " " + strings.Join(lower, " ") + " "
	for _, p := range commitPhr {
		if strings.Contains(joined, " "+p+" ") {
			commit = 1
			break
		}
	}
	if han := hanCount(text); han > 0 {
		if zhFiller.MatchString(strings.TrimSpace(text)) {
			return 0, contentWords
		}
		content += han / 2
		plain += han / 2
		dates += len(zhDate.FindAllString(text, 2))
		if strings.Contains(text, "我") {
			first = 1
		}
		if zhCommit.MatchString(text) {
			commit = 1
		}
		if zhFeel.MatchString(text) {
			feel = 1
		}
		for _, r := range text {
			if unicode.Is(unicode.Han, r) {
				contentWords = append(contentWords, string(r))
			}
		}
	}
	if dates == 0 && (plain == 0 || (content < 2 && ents == 0)) {
		return 0, contentWords // greetings and filler: "Thanks!", "Wow, nice pic!", "Hey Mel!"
	}
	s := 2.0*float64(min(ents, 3)) + 1.5*float64(min(dates, 2)) + 1.5*float64(first) +
		1.5*float64(commit) + 0.75*float64(feel) + 0.25*float64(min(content, 12))
	if t := strings.TrimSpace(text); strings.HasSuffix(t, "?") || strings.HasSuffix(t, "？") {
		s *= 0.5 // questions rarely state a fact
	}
	return s, contentWords
}

func isUpperStart(w string) bool {
	r, _ := utf8.DecodeRuneInString(w)
	return unicode.IsUpper(r)
}
