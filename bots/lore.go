package bots

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/longmem/longmem/retrieval"
)

// DefaultLoreScanDepth is how many recent turns are scanned for keys when a
// lorebook does not say (besides the new message).
const DefaultLoreScanDepth = 4

// MaxLoreRecursion bounds recursive scanning: entries triggered by the
// content of entries triggered by … at most this many passes after the
// first.
const MaxLoreRecursion = 3

// LoreMatch is one triggered lorebook entry and why it triggered.
type LoreMatch struct {
	Entry LoreEntry
	// Reasons say which key matched where, e.g. `key "castle" in message`,
	// or "constant", or "@@activate".
	Reasons []string
	// Always: the entry is in every prompt (constant, or @@activate).
	Always bool
	// Text is the entry's content without its decorators: what the model
	// is sent.
	Text string
	// Decorators are the ones the entry's content starts with.
	Decorators Decorators
}

// Reasons of entries that are always inserted.
const (
	ReasonConstant = "constant"
	ReasonActivate = "@@activate"
)

// EffectiveScanDepth is ScanDepth, or DefaultLoreScanDepth when unset.
func (lb *Lorebook) EffectiveScanDepth() int {
	if lb == nil || lb.ScanDepth <= 0 {
		return DefaultLoreScanDepth
	}
	return lb.ScanDepth
}

// Match returns the entries of lb that trigger for scan: scan[0] is the new
// message, scan[1:] the recent turns, newest first (the caller cuts them to
// the scan depth). Disabled entries never trigger; constant entries always
// do; others when one of their keys occurs in a scanned text — compared
// case-insensitively unless the entry is case sensitive, as a whole word
// where the key begins or ends with a letter or digit (CJK characters match
// anywhere) — and, for selective entries with secondary keys, when the
// secondary keys satisfy the selective logic. With RecursiveScanning the
// content of triggered entries is scanned too, at most MaxLoreRecursion
// passes. SillyTavern's entry flags in Extensions are honoured:
// prevent_recursion (its content is not scanned), exclude_recursion (only
// the scanned texts trigger it), delay_until_recursion (only the content
// of other entries does), match_whole_words, case_sensitive and group (one
// entry per group, see oneOfEachGroup); a key written /pattern/flags is a
// regular expression. probability is not: the prompt stays deterministic.
// The result is ordered by insertion order, then id. Pure.
func (lb *Lorebook) Match(scan []string) []LoreMatch {
	if lb == nil {
		return nil
	}
	texts := make([]scanText, 0, len(scan))
	for i, s := range scan {
		where := "message"
		if i > 0 {
			where = fmt.Sprintf("recent turn %d", i)
		}
		texts = append(texts, newScanText(s, where))
	}
	done := make(map[int]bool, len(lb.Entries)) // index into Entries
	decs := make([]Decorators, len(lb.Entries))
	bodies := make([]string, len(lb.Entries))
	for i, e := range lb.Entries {
		decs[i], bodies[i] = ParseDecorators(e.Content)
		if !e.Enabled || decs[i].never() {
			done[i] = true // never triggers
		}
	}
	var out []LoreMatch
	var fresh []int
	add := func(i int, reasons []string, always bool) {
		done[i] = true
		out = append(out, LoreMatch{Entry: lb.Entries[i], Reasons: reasons, Always: always, Text: bodies[i], Decorators: decs[i]})
		fresh = append(fresh, i)
	}
	for i, e := range lb.Entries {
		switch {
		case done[i]:
		case decs[i].Activate:
			add(i, []string{ReasonActivate}, true)
		case e.Constant:
			add(i, []string{ReasonConstant}, true)
		case extFlag(e, "delay_until_recursion"):
			// only a recursive pass may trigger it
		default:
			if reasons, ok := matchEntry(e, texts); ok {
				add(i, reasons, false)
			}
		}
	}
	for pass := 0; lb.RecursiveScanning && pass < MaxLoreRecursion && len(fresh) > 0; pass++ {
		for _, i := range fresh {
			if !extFlag(lb.Entries[i], "prevent_recursion") {
				texts = append(texts, newScanText(bodies[i], fmt.Sprintf("entry %d", lb.Entries[i].ID)))
			}
		}
		fresh = fresh[:0]
		for i, e := range lb.Entries {
			if done[i] || e.Constant || extFlag(e, "exclude_recursion") {
				continue
			}
			in := texts
			if extFlag(e, "delay_until_recursion") {
				in = texts[len(scan):] // only what entries brought in
			}
			if reasons, ok := matchEntry(e, in); ok {
				add(i, reasons, false)
			}
		}
	}
	out = oneOfEachGroup(out)
	slices.SortStableFunc(out, func(a, b LoreMatch) int {
		if a.Entry.InsertionOrder != b.Entry.InsertionOrder {
			return cmp.Compare(a.Entry.InsertionOrder, b.Entry.InsertionOrder)
		}
		return cmp.Compare(a.Entry.ID, b.Entry.ID)
	})
	return out
}

// scanText is one scanned text with its lower-cased form, computed once.
type scanText struct {
	text, lower, where string
}

func newScanText(s, where string) scanText {
	return scanText{text: s, lower: strings.ToLower(s), where: where}
}

// matchEntry reports whether e's keys trigger it in texts, with the reasons.
func matchEntry(e LoreEntry, texts []scanText) ([]string, bool) {
	m := keyMatcher{whole: true, caseSensitive: e.CaseSensitive}
	if v, ok := e.Extensions["match_whole_words"].(bool); ok {
		m.whole, m.stWhole = v, v // SillyTavern's per-entry override
	}
	if v, ok := e.Extensions["case_sensitive"].(bool); ok && v {
		m.caseSensitive = true // SillyTavern's per-entry override in a card
	}
	if useRegex(e) {
		for _, k := range e.Keys {
			if where, ok := findRegex(k, texts, m.caseSensitive); ok {
				return []string{fmt.Sprintf("regex %q in %s", k, where)}, true
			}
		}
		return nil, false // V3: secondary keys are ignored with use_regex
	}
	var reasons []string
	for _, k := range e.Keys {
		if where, ok := m.find(k, texts); ok {
			reasons = append(reasons, fmt.Sprintf("key %q in %s", k, where))
			break
		}
	}
	if reasons == nil {
		return nil, false
	}
	secondary := nonEmpty(e.SecondaryKeys)
	if !e.Selective || len(secondary) == 0 {
		return reasons, true
	}
	var found, missing []string
	for _, k := range secondary {
		if where, ok := m.find(k, texts); ok {
			found = append(found, fmt.Sprintf("secondary key %q in %s", k, where))
		} else {
			missing = append(missing, fmt.Sprintf("secondary key %q absent", k))
		}
	}
	switch e.SelectiveLogic {
	case LogicAndAll:
		if len(missing) > 0 {
			return nil, false
		}
		return append(reasons, found...), true
	case LogicNotAny:
		if len(found) > 0 {
			return nil, false
		}
		return append(reasons, "no secondary key present"), true
	case LogicNotAll:
		if len(missing) == 0 {
			return nil, false
		}
		return append(reasons, missing[0]), true
	default: // and_any
		if len(found) == 0 {
			return nil, false
		}
		return append(reasons, found[0]), true
	}
}

// CardFieldsKey is the key, in a lorebook entry's Extensions, of the
// Character Card fields longmem keeps verbatim (see bots/card); the matcher
// reads V3's use_regex from it.
const CardFieldsKey = "longmem/card_fields"

func useRegex(e LoreEntry) bool {
	f, _ := e.Extensions[CardFieldsKey].(map[string]any)
	v, _ := f["use_regex"].(bool)
	return v
}

// findRegex returns where the regular expression key (RE2 syntax, either
// bare — case-insensitive unless caseSensitive — or as /pattern/flags with
// the flags i, m and s) first matches in texts. An invalid pattern never
// matches.
func findRegex(key string, texts []scanText, caseSensitive bool) (string, bool) {
	pat, flags := key, ""
	if !caseSensitive {
		flags = "i"
	}
	if j := strings.LastIndexByte(key, '/'); len(key) > 2 && key[0] == '/' && j > 0 {
		pat, flags = key[1:j], ""
		for _, f := range key[j+1:] {
			if strings.ContainsRune("ims", f) && !strings.ContainsRune(flags, f) {
				flags += string(f)
			}
		}
	}
	if flags != "" {
		pat = "(?" + flags + ")" + pat
	}
	re, err := regexp.Compile(pat)
	if err != nil || key == "" {
		return "", false
	}
	for _, t := range texts {
		if re.MatchString(t.text) {
			return t.where, true
		}
	}
	return "", false
}

func nonEmpty(keys []string) []string {
	var out []string
	for _, k := range keys {
		if strings.TrimSpace(k) != "" {
			out = append(out, k)
		}
	}
	return out
}

// keyMatcher finds an entry's keys in the scanned texts.
type keyMatcher struct {
	caseSensitive bool
	// whole: keys match as whole words (see findKey).
	whole bool
	// stWhole: the entry says match_whole_words true, as SillyTavern
	// does, where a key of several words matches anywhere.
	stWhole bool
}

// find returns where key first occurs in texts. A key written as a
// regular expression literal, /pattern/flags, is one (as in SillyTavern).
func (m keyMatcher) find(key string, texts []scanText) (string, bool) {
	key = strings.TrimSpace(key)
	if isRegexLiteral(key) {
		return findRegex(key, texts, m.caseSensitive)
	}
	whole := m.whole && !(m.stWhole && strings.ContainsFunc(key, unicode.IsSpace))
	return findKey(key, texts, m.caseSensitive, whole)
}

// isRegexLiteral reports a key of the form /pattern/flags, flags among
// g, i, m, s, u and y.
func isRegexLiteral(key string) bool {
	j := strings.LastIndexByte(key, '/')
	if len(key) < 3 || key[0] != '/' || j < 2 {
		return false
	}
	return strings.Trim(key[j+1:], "gimsuy") == ""
}

// extFlag reports an entry's SillyTavern extension flag (true, or a
// number above zero) by its name in a card's character_book.
func extFlag(e LoreEntry, name string) bool {
	switch v := e.Extensions[name].(type) {
	case bool:
		return v
	case float64:
		return v > 0
	case int:
		return v > 0
	case interface{ Float64() (float64, error) }: // json.Number
		f, err := v.Float64()
		return err == nil && f > 0
	}
	return false
}

// oneOfEachGroup keeps, of the triggered entries that share an inclusion
// group (extensions.group, comma-separated names, as SillyTavern writes
// it), one: an entry with group_override first, then the highest
// group_weight, then the highest insertion order, then the lowest id.
// SillyTavern draws the winner at random by weight; longmem picks the
// heaviest, so the prompt stays deterministic. Constant entries are never
// removed. Pure.
func oneOfEachGroup(ms []LoreMatch) []LoreMatch {
	winner := map[string]int{} // group → index into ms
	for i, m := range ms {
		if m.Always {
			continue
		}
		for _, g := range entryGroups(m.Entry) {
			w, ok := winner[g]
			if !ok || groupBeats(m.Entry, ms[w].Entry) {
				winner[g] = i
			}
		}
	}
	if len(winner) == 0 {
		return ms
	}
	out := ms[:0:0]
	for i, m := range ms {
		keep := true
		for _, g := range entryGroups(m.Entry) {
			if !m.Always && winner[g] != i {
				keep = false
			}
		}
		if keep {
			out = append(out, m)
		}
	}
	return out
}

func entryGroups(e LoreEntry) []string {
	s, _ := e.Extensions["group"].(string)
	var out []string
	for _, g := range strings.Split(s, ",") {
		if g = strings.TrimSpace(g); g != "" {
			out = append(out, g)
		}
	}
	return out
}

func groupBeats(a, b LoreEntry) bool {
	if oa, ob := extFlag(a, "group_override"), extFlag(b, "group_override"); oa != ob {
		return oa
	}
	if wa, wb := extNumber(a, "group_weight"), extNumber(b, "group_weight"); wa != wb {
		return wa > wb
	}
	if a.InsertionOrder != b.InsertionOrder {
		return a.InsertionOrder > b.InsertionOrder
	}
	return a.ID < b.ID
}

// extNumber is a numeric extension of an entry (100, SillyTavern's
// default weight, when absent).
func extNumber(e LoreEntry, name string) float64 {
	switch v := e.Extensions[name].(type) {
	case float64:
		return v
	case int:
		return float64(v)
	case interface{ Float64() (float64, error) }:
		if f, err := v.Float64(); err == nil {
			return f
		}
	}
	return 100
}

// findKey returns where key first occurs in texts.
func findKey(key string, texts []scanText, caseSensitive, whole bool) (string, bool) {
	if key == "" {
		return "", false
	}
	k := key
	if !caseSensitive {
		k = strings.ToLower(key)
	}
	first, _ := utf8.DecodeRuneInString(k)
	last, _ := utf8.DecodeLastRuneInString(k)
	needStart := whole && isWordRune(first) && !isCJK(first)
	needEnd := whole && isWordRune(last) && !isCJK(last)
	for _, t := range texts {
		h := t.lower
		if caseSensitive {
			h = t.text
		}
		if containsKey(h, k, needStart, needEnd) {
			return t.where, true
		}
	}
	return "", false
}

// containsKey reports whether k occurs in h, with a word boundary before it
// when needStart and after it when needEnd.
func containsKey(h, k string, needStart, needEnd bool) bool {
	for off := 0; off <= len(h)-len(k); {
		i := strings.Index(h[off:], k)
		if i < 0 {
			return false
		}
		i += off
		ok := true
		if needStart && i > 0 {
			r, _ := utf8.DecodeLastRuneInString(h[:i])
			ok = !isWordRune(r) || isCJK(r)
		}
		if ok && needEnd && i+len(k) < len(h) {
			r, _ := utf8.DecodeRuneInString(h[i+len(k):])
			ok = !isWordRune(r) || isCJK(r)
		}
		if ok {
			return true
		}
		_, size := utf8.DecodeRuneInString(h[i:])
		off = i + size
	}
	return false
}

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || unicode.Is(unicode.Mn, r)
}

// isCJK reports a character of a script written without spaces between
// words, where a key matches as a substring.
func isCJK(r rune) bool {
	return unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul, unicode.Thai)
}

// LoreSource adapts a bot's lorebook to the assembler's retrieval.Lorebook,
// with the {{char}} and {{user}} macros expanded in keys and contents.
type LoreSource struct {
	Book *Lorebook
	// Char and User replace the macros, as Expand does.
	Char, User string
}

var _ retrieval.Lorebook = LoreSource{}
var _ retrieval.LoreBudgeter = LoreSource{}

// Triggered implements retrieval.Lorebook.
func (s LoreSource) Triggered(scan []string) []retrieval.LoreItem {
	if s.Book == nil || len(s.Book.Entries) == 0 {
		return nil
	}
	lb := *s.Book
	lb.Entries = make([]LoreEntry, len(s.Book.Entries))
	for i, e := range s.Book.Entries {
		keys := make([]string, len(e.Keys))
		for k, key := range e.Keys {
			keys[k] = Expand(key, s.Char, s.User)
		}
		sec := make([]string, len(e.SecondaryKeys))
		for k, key := range e.SecondaryKeys {
			sec[k] = Expand(key, s.Char, s.User)
		}
		e.Keys, e.SecondaryKeys = keys, sec
		e.Content = Expand(e.Content, s.Char, s.User)
		lb.Entries[i] = e
	}
	matches := lb.Match(scan)
	out := make([]retrieval.LoreItem, len(matches))
	for i, m := range matches {
		name := m.Entry.Name
		if name == "" {
			name = m.Entry.Comment
		}
		pos := m.Entry.Position
		if m.Decorators.Position != "" {
			pos = m.Decorators.Position
		}
		out[i] = retrieval.LoreItem{ID: m.Entry.ID, Name: name, Content: m.Text, Constant: m.Always,
			Before: pos == PositionBeforeChar, Order: m.Entry.InsertionOrder, Priority: m.Entry.Priority, Reasons: m.Reasons}
	}
	return out
}

// LoreTokenBudget implements retrieval.LoreBudgeter: the lorebook's
// token_budget (0: none).
func (s LoreSource) LoreTokenBudget() int {
	if s.Book == nil {
		return 0
	}
	return s.Book.TokenBudget
}

// Decorators are the Character Card V3 decorators a lorebook entry's
// content starts with: lines "@@name value" (and "@@@name value", the
// fallback of the decorator before it, used when that one is not
// recognised). The content keeps them as written; the model gets the text
// after them. Of the spec's decorators longmem follows @@activate,
// @@dont_activate and @@position before_desc/after_desc; the others are
// stripped and ignored, as the spec allows.
type Decorators struct {
	// Activate: the entry is in every prompt (as a constant one is).
	Activate bool
	// DontActivate: the entry never triggers, unless Activate.
	DontActivate bool
	// Position is PositionBeforeChar for "@@position before_desc",
	// PositionAfterChar for "after_desc", "" without; it overrides the
	// entry's position.
	Position string
	// Names lists every decorator line's name as written ("depth",
	// "@role" for a fallback …), recognised or not.
	Names []string
}

// never reports an entry that must not trigger in any case.
func (d Decorators) never() bool { return d.DontActivate && !d.Activate }

// ParseDecorators splits content into its leading decorator lines (blank
// lines among them allowed) and the text after them, trimmed of the
// newlines around it. Content that does not start with "@@" comes back
// whole and untouched.
func ParseDecorators(content string) (Decorators, string) {
	var d Decorators
	rest := strings.TrimLeft(content, " \t\r\n")
	if !strings.HasPrefix(rest, "@@") {
		return d, content
	}
	seen := map[string]bool{}
	fallbackWanted := false // the last decorator was not recognised
	for {
		line, after, found := strings.Cut(rest, "\n")
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "@@") {
			break
		}
		if line != "" {
			fallback := strings.HasPrefix(line, "@@@")
			name, value, _ := strings.Cut(strings.TrimLeft(line, "@"), " ")
			name, value = strings.ToLower(strings.TrimSpace(name)), strings.TrimSpace(value)
			if fallback {
				d.Names = append(d.Names, "@"+name)
			} else {
				d.Names = append(d.Names, name)
			}
			if !fallback || fallbackWanted {
				used := !seen[name] && d.apply(name, value)
				if used {
					seen[name] = true
				}
				fallbackWanted = !used
			}
		}
		rest = after
		if !found {
			rest = ""
			break
		}
	}
	return d, strings.TrimSpace(strings.Trim(rest, "\r\n"))
}

// apply records a decorator longmem follows; false when it is not one.
func (d *Decorators) apply(name, value string) bool {
	switch name {
	case "activate":
		d.Activate = true
	case "dont_activate":
		d.DontActivate = true
	case "position":
		switch strings.ToLower(value) {
		case "before_desc":
			d.Position = PositionBeforeChar
		case "after_desc":
			d.Position = PositionAfterChar
		default:
			return false
		}
	default:
		return false
	}
	return true
}
