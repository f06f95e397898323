package card

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/longmem/longmem/bots"
	"github.com/longmem/longmem/memory"
)

// SillyTavern World Info files — {"entries": {"0": {"uid": 0, "key": […],
// …}, …}} — read as and written from a bots.Lorebook.
//
// The fields longmem acts on map onto LoreEntry (uid → id, key → keys,
// keysecondary → secondary_keys, comment, content, constant, selective,
// selectiveLogic → selective_logic, order → insertion_order, position 0 →
// before_char and every other → after_char, disable → !enabled,
// caseSensitive → case_sensitive). The others go into the entry's
// extensions under the names SillyTavern itself uses when it puts a World
// Info entry into a card's character_book (matchWholeWords →
// match_whole_words, excludeRecursion → exclude_recursion, depth, group …),
// so a World Info file, a card carrying it and longmem's lorebook agree.
// Fields SillyTavern may add later are kept verbatim under
// WorldInfoFieldsKey and written back by ExportWorldInfo.

// WorldInfoFieldsKey is the key, in a lorebook's or an entry's Extensions,
// of the World Info fields longmem has no name for, verbatim.
const WorldInfoFieldsKey = "longmem/worldinfo_fields"

// LoreFormat is a form a lorebook travels in.
type LoreFormat string

// Lorebook forms.
const (
	// LoreLongmem is longmem's lorebook JSON (a bot's "lorebook"), which is
	// also what a card's character_book is.
	LoreLongmem LoreFormat = "lorebook"
	// LoreWorldInfo is a SillyTavern World Info file.
	LoreWorldInfo LoreFormat = "worldinfo"
	// LoreCard is a whole Character Card, of which the character_book is
	// taken.
	LoreCard LoreFormat = "card"
)

// wiExt maps World Info entry fields onto the extension names SillyTavern
// writes in a card's character_book entries. Ordered for determinism.
var wiExt = [][2]string{
	{"matchWholeWords", "match_whole_words"},
	{"excludeRecursion", "exclude_recursion"},
	{"preventRecursion", "prevent_recursion"},
	{"delayUntilRecursion", "delay_until_recursion"},
	{"probability", "probability"},
	{"useProbability", "useProbability"},
	{"depth", "depth"},
	{"role", "role"},
	{"group", "group"},
	{"groupOverride", "group_override"},
	{"groupWeight", "group_weight"},
	{"useGroupScoring", "use_group_scoring"},
	{"scanDepth", "scan_depth"},
	{"automationId", "automation_id"},
	{"vectorized", "vectorized"},
	{"sticky", "sticky"},
	{"cooldown", "cooldown"},
	{"delay", "delay"},
	{"displayIndex", "display_index"},
	{"ignoreBudget", "ignore_budget"},
	{"outletName", "outlet_name"},
	{"triggers", "triggers"},
	{"matchPersonaDescription", "match_persona_description"},
	{"matchCharacterDescription", "match_character_description"},
	{"matchCharacterPersonality", "match_character_personality"},
	{"matchCharacterDepthPrompt", "match_character_depth_prompt"},
	{"matchScenario", "match_scenario"},
	{"matchCreatorNotes", "match_creator_notes"},
}

// Extension keys of what only longmem knows, kept in a World Info entry's
// extensions by ExportWorldInfo.
const (
	wiNameKey     = "longmem/name"
	wiPriorityKey = "longmem/priority"
)

// IsWorldInfo reports whether doc (decoded JSON) is a World Info file: an
// object whose "entries" is an object (a lorebook's is an array).
func IsWorldInfo(doc map[string]any) bool {
	_, ok := doc["entries"].(map[string]any)
	return ok
}

// ParseLorebook reads a lorebook in any of the forms it travels in:
// longmem's lorebook (a card's character_book), a SillyTavern World Info
// file, or a whole Character Card (JSON or PNG), whose character_book it
// returns. Errors wrap memory.ErrInvalid and name the field.
func ParseLorebook(b []byte) (*bots.Lorebook, LoreFormat, error) {
	if bytes.HasPrefix(b, pngSignature) {
		bot, err := ParsePNG(b)
		return cardBook(bot, err)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, "", memory.Invalid("lorebook", "not valid JSON: %v", err)
	}
	if d.More() {
		return nil, "", memory.Invalid("lorebook", "trailing data after the JSON object")
	}
	root, ok := v.(map[string]any)
	if !ok {
		return nil, "", memory.Invalid("lorebook", "must be a JSON object, got %s", kind(v))
	}
	switch {
	case IsWorldInfo(root):
		lb, err := parseWorldInfo(root)
		return lb, LoreWorldInfo, err
	case root["spec"] != nil || root["data"] != nil:
		return cardBook(fromMap(root))
	}
	if _, ok := root["entries"]; !ok {
		return nil, "", memory.Invalid("lorebook.entries", "is missing: want longmem's lorebook or a card's character_book "+
			`({"entries": [...]}), a SillyTavern World Info file ({"entries": {"0": {...}}}) or a Character Card`)
	}
	lb, err := parseBook(root, "lorebook.")
	return lb, LoreLongmem, err
}

func cardBook(bot bots.Bot, err error) (*bots.Lorebook, LoreFormat, error) {
	if err != nil {
		return nil, "", err
	}
	if bot.Lorebook == nil {
		return nil, "", memory.Invalid("data.character_book", "the card %q has no lorebook (character_book)", bot.Name)
	}
	return bot.Lorebook, LoreCard, nil
}

// worldInfoError is the card importer's answer to a World Info file.
func worldInfoError() error {
	return memory.Invalid("card", "this is a SillyTavern World Info file (a lorebook), not a Character Card: "+
		"give it to an existing bot with PUT /v1/bots/{id}/lorebook (or the Lorebook tab of the page), "+
		"or convert it offline with `longmem card --to lorebook`")
}

func parseWorldInfo(root map[string]any) (*bots.Lorebook, error) {
	top := newObj(root, "")
	entries, _ := top.take("entries").(map[string]any)
	lb, err := top.bookFields()
	if err != nil {
		return nil, err
	}
	lb.Extensions = stashAs(lb.Extensions, WorldInfoFieldsKey, top.rest)

	// Entries in the order of their keys: numbers ascending, then the rest.
	names := slices.Collect(maps.Keys(entries))
	slices.SortFunc(names, func(a, b string) int {
		na, ea := strconv.Atoi(a)
		nb, eb := strconv.Atoi(b)
		switch {
		case ea == nil && eb == nil && na != nb:
			return na - nb
		case ea == nil && eb != nil:
			return -1
		case ea != nil && eb == nil:
			return 1
		}
		return bytes.Compare([]byte(a), []byte(b))
	})
	lb.Entries = make([]bots.LoreEntry, 0, len(names))
	taken := map[int]bool{}
	var unset []int
	for _, name := range names {
		path := "entries." + name + "."
		em, ok := entries[name].(map[string]any)
		if !ok {
			return nil, memory.Invalid("entries."+name, "must be an object, got %s", kind(entries[name]))
		}
		e, hasID, err := parseWIEntry(em, path)
		if err != nil {
			return nil, err
		}
		if hasID && taken[e.ID] {
			e.Extensions = stashAs(e.Extensions, WorldInfoFieldsKey, map[string]any{"uid": json.Number(strconv.Itoa(e.ID))})
			hasID = false
		}
		if hasID && name != strconv.Itoa(e.ID) {
			e.Extensions = stashAs(e.Extensions, WorldInfoFieldsKey, map[string]any{"$key": name})
		}
		if hasID {
			taken[e.ID] = true
		} else {
			unset = append(unset, len(lb.Entries))
		}
		lb.Entries = append(lb.Entries, e)
	}
	assignIDs(lb.Entries, unset, taken)
	return lb, nil
}

func parseWIEntry(m map[string]any, path string) (bots.LoreEntry, bool, error) {
	o := newObj(m, path)
	var e bots.LoreEntry
	var err error
	if e.Keys, err = o.keys("key"); err != nil {
		return e, false, err
	}
	if e.SecondaryKeys, err = o.keys("keysecondary"); err != nil {
		return e, false, err
	}
	if e.Comment, err = o.str("comment"); err != nil {
		return e, false, err
	}
	if e.Content, err = o.str("content"); err != nil {
		return e, false, err
	}
	if e.Constant, err = o.boolean("constant", false); err != nil {
		return e, false, err
	}
	if e.Selective, err = o.boolean("selective", false); err != nil {
		return e, false, err
	}
	disable, err := o.boolean("disable", false)
	if err != nil {
		return e, false, err
	}
	e.Enabled = !disable
	if e.InsertionOrder, _, err = o.integer("order"); err != nil {
		return e, false, err
	}
	logic, hasLogic, err := o.integer("selectiveLogic")
	if err != nil {
		return e, false, err
	}
	if hasLogic {
		if logic < 0 || logic >= len(stLogic) {
			return e, false, memory.Invalid(path+"selectiveLogic", "is %d; want 0 (AND ANY), 1 (NOT ALL), 2 (NOT ANY) or 3 (AND ALL)", logic)
		}
		e.SelectiveLogic = stLogic[logic]
	}
	if e.Extensions, err = o.object("extensions"); err != nil {
		return e, false, err
	}
	ext := e.Extensions
	if ext == nil {
		ext = map[string]any{}
	}
	if raw, ok := o.rest["position"]; ok {
		n, isNum := raw.(json.Number)
		if !isNum && raw != nil {
			return e, false, memory.Invalid(path+"position", "must be a number (0 before the character, 1 after it, 2–7 other places), got %s", kind(raw))
		}
		delete(o.rest, "position")
		ext["position"] = raw
		if n == "0" {
			e.Position = bots.PositionBeforeChar
		} else {
			e.Position = bots.PositionAfterChar
		}
	}
	if raw, ok := o.rest["caseSensitive"]; ok {
		delete(o.rest, "caseSensitive")
		switch v := raw.(type) {
		case nil:
			ext["case_sensitive"] = nil
		case bool:
			e.CaseSensitive = v
			if !v {
				ext["case_sensitive"] = false // not null: says so on export
			}
		default:
			return e, false, memory.Invalid(path+"caseSensitive", "must be true, false or null, got %s", kind(raw))
		}
	}
	for _, f := range wiExt {
		if raw, ok := o.rest[f[0]]; ok {
			delete(o.rest, f[0])
			ext[f[1]] = raw
		}
	}
	if s, ok := ext[wiNameKey].(string); ok {
		e.Name = s
		delete(ext, wiNameKey)
	}
	if n, ok := ext[wiPriorityKey].(json.Number); ok {
		if p, err := strconv.Atoi(n.String()); err == nil {
			e.Priority = p
			delete(ext, wiPriorityKey)
		}
	}
	hasID := false
	if raw, ok := o.rest["uid"]; ok {
		if n, ok := raw.(json.Number); ok {
			if i, err := strconv.ParseInt(n.String(), 10, 32); err == nil && i >= 0 {
				e.ID, hasID = int(i), true
				delete(o.rest, "uid")
			}
		}
	}
	e.Extensions = stashAs(ext, WorldInfoFieldsKey, o.rest)
	return e, hasID, nil
}

// stashAs returns ext with fields added under key (nil when all is empty).
func stashAs(ext map[string]any, key string, fields map[string]any) map[string]any {
	if len(fields) > 0 {
		if ext == nil {
			ext = map[string]any{}
		}
		f, _ := ext[key].(map[string]any)
		if f == nil {
			f = map[string]any{}
		}
		maps.Copy(f, fields)
		ext[key] = f
	}
	if len(ext) == 0 {
		return nil
	}
	return ext
}

// ExportWorldInfo writes lb as a SillyTavern World Info file: entries keyed
// by uid, every field SillyTavern defines that the lorebook holds, and the
// fields it was imported with verbatim. What only longmem has (the
// lorebook's name, scan depth, token budget and recursion; an entry's name
// and priority) is kept in fields SillyTavern ignores.
func ExportWorldInfo(lb bots.Lorebook) ([]byte, error) {
	root, ext := unstashKey(lb.Extensions, WorldInfoFieldsKey)
	if len(ext) > 0 {
		root["extensions"] = ext
	}
	putBookFields(root, lb)
	entries := map[string]any{}
	for _, e := range lb.Entries {
		em, ext := unstashKey(e.Extensions, WorldInfoFieldsKey)
		key, _ := em["$key"].(string)
		delete(em, "$key")
		if key == "" {
			key = strconv.Itoa(e.ID)
		}
		if _, ok := em["uid"]; !ok {
			em["uid"] = e.ID
		}
		em["key"] = nonNil(e.Keys)
		em["keysecondary"] = nonNil(e.SecondaryKeys)
		em["comment"] = e.Comment
		if e.Comment == "" && e.Name != "" {
			em["comment"] = e.Name
		} else if e.Name != "" {
			ext[wiNameKey] = e.Name
		}
		if e.Priority != 0 {
			ext[wiPriorityKey] = e.Priority
		}
		em["content"] = e.Content
		em["constant"] = e.Constant
		em["selective"] = e.Selective
		em["selectiveLogic"] = max(slices.Index(stLogic, e.SelectiveLogic), 0)
		em["order"] = e.InsertionOrder
		em["disable"] = !e.Enabled
		em["position"] = wiPosition(e.Position, ext["position"])
		delete(ext, "position")
		switch cs, ok := ext["case_sensitive"]; {
		case e.CaseSensitive || cs == true:
			em["caseSensitive"] = true
		case ok && cs != nil:
			em["caseSensitive"] = false
		case ok:
			em["caseSensitive"] = nil // SillyTavern's global setting
		}
		delete(ext, "case_sensitive")
		for _, f := range wiExt {
			if v, ok := ext[f[1]]; ok {
				em[f[0]] = v
				delete(ext, f[1])
			}
		}
		delete(ext, "selectiveLogic") // the entry's selective_logic says it
		if len(ext) > 0 {
			em["extensions"] = ext
		}
		entries[key] = em
	}
	root["entries"] = entries
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("card: encode world info: %w", err)
	}
	return buf.Bytes(), nil
}

// wiPosition is the World Info position of an entry placed pos, keeping
// the imported number (2–7: author's note, at depth …) while it agrees.
func wiPosition(pos string, imported any) any {
	before := pos == bots.PositionBeforeChar
	var n float64
	switch v := imported.(type) {
	case json.Number:
		f, err := v.Float64()
		if err != nil {
			imported = nil
		}
		n = f
	case float64: // stored, decoded again
		n = v
	case int:
		n = float64(v)
	default:
		imported = nil
	}
	if imported != nil && (n == 0) == before {
		return imported
	}
	if before {
		return 0
	}
	return 1
}

// unstashKey splits ext into the fields stashed under key (a new map) and
// the rest (a copy, never nil).
func unstashKey(ext map[string]any, key string) (fields, rest map[string]any) {
	fields, rest = map[string]any{}, map[string]any{}
	for k, v := range ext {
		if k == key {
			if f, ok := v.(map[string]any); ok {
				maps.Copy(fields, f)
				continue
			}
		}
		rest[k] = v
	}
	return fields, rest
}
