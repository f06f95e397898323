// Package card reads and writes Character Cards — V1, V2 (chara_card_v2)
// and V3 (chara_card_v3), as JSON or embedded in a PNG — as bots.Bot,
// keeping every field, unknown ones included, for round-trips.
package card

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/longmem/longmem/bots"
	"github.com/longmem/longmem/memory"
)

// Spec names and versions of the formats written.
const (
	SpecV2        = "chara_card_v2"
	SpecV3        = "chara_card_v3"
	SpecVersionV2 = "2.0"
	SpecVersionV3 = "3.0"
)

// RootKey is the key of Bot.Card that holds a card's unknown top-level
// fields (beside spec, spec_version and data), verbatim. Every other key of
// Bot.Card is an unknown (or V3-only) field of the card's data object.
const RootKey = "$root"

// FieldsKey is the key, in a lorebook's or an entry's Extensions, that
// holds its fields longmem has no place for (V3 use_regex, an id that is
// not a number …), verbatim; an export puts them back in place.
const FieldsKey = bots.CardFieldsKey

// LongmemKey is the key of a card's data.extensions where an export keeps
// what only longmem knows (model, memory policy, metadata); an import
// takes it back out.
const LongmemKey = "longmem"

// Format is a card format.
type Format string

// Formats of an export.
const (
	V2  Format = "v2"
	V3  Format = "v3"
	PNG Format = "png"
)

// v1Fields are the V1 fields, at the top level of a V1 card and mirrored
// there by V2/V3 exports.
var v1Fields = []string{"name", "description", "personality", "scenario", "first_mes", "mes_example"}

// Parse reads a card from JSON or a PNG, told apart by the PNG signature.
func Parse(b []byte) (bots.Bot, error) {
	if bytes.HasPrefix(b, pngSignature) {
		return ParsePNG(b)
	}
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] != '{' {
		return bots.Bot{}, memory.Invalid("card", "is neither a PNG (no PNG signature) nor a JSON object: want a Character Card as JSON or a PNG carrying one")
	}
	return ParseJSON(b)
}

// ParseJSON reads a V1, V2 or V3 card. A malformed card is an error that
// wraps memory.ErrInvalid and names the field (e.g.
// "data.character_book.entries[2].keys").
func ParseJSON(b []byte) (bots.Bot, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return bots.Bot{}, memory.Invalid("card", "not valid JSON: %v", err)
	}
	if d.More() {
		return bots.Bot{}, memory.Invalid("card", "trailing data after the JSON object")
	}
	root, ok := v.(map[string]any)
	if !ok {
		return bots.Bot{}, memory.Invalid("card", "must be a JSON object, got %s", kind(v))
	}
	return fromMap(root)
}

func fromMap(root map[string]any) (bots.Bot, error) {
	if IsWorldInfo(root) && root["spec"] == nil {
		return bots.Bot{}, worldInfoError()
	}
	top := newObj(root, "")
	spec, err := top.str("spec")
	if err != nil {
		return bots.Bot{}, err
	}
	if _, err := top.str("spec_version"); err != nil {
		return bots.Bot{}, err
	}
	var data obj
	switch spec {
	case SpecV2, SpecV3:
		m, err := top.object("data")
		if err != nil {
			return bots.Bot{}, err
		}
		if m == nil {
			return bots.Bot{}, memory.Invalid("data", "is required in a %s card", spec)
		}
		data = newObj(m, "data.")
		for _, k := range v1Fields { // mirrors of data, rewritten on export
			delete(top.rest, k)
		}
	case "":
		if _, ok := root["data"]; ok {
			return bots.Bot{}, memory.Invalid("spec", "is required with data (chara_card_v2 or chara_card_v3)")
		}
		data = top // V1: the fields are at the top level
	default:
		return bots.Bot{}, memory.Invalid("spec", "unknown spec %q (want chara_card_v2, chara_card_v3, or none for V1)", spec)
	}
	var bot bots.Bot
	for _, f := range []struct {
		key string
		dst *string
	}{
		{"name", &bot.Name}, {"description", &bot.Description}, {"personality", &bot.Personality},
		{"scenario", &bot.Scenario}, {"first_mes", &bot.FirstMessage}, {"mes_example", &bot.ExampleDialogues},
		{"creator_notes", &bot.CreatorNotes}, {"system_prompt", &bot.SystemPrompt},
		{"post_history_instructions", &bot.PostHistoryInstructions}, {"creator", &bot.Creator},
		{"character_version", &bot.CharacterVersion},
	} {
		if spec == "" && !slices.Contains(v1Fields, f.key) {
			continue // V1 has only its six fields; the rest stays verbatim
		}
		if *f.dst, err = data.str(f.key); err != nil {
			return bots.Bot{}, err
		}
	}
	if strings.TrimSpace(bot.Name) == "" {
		return bots.Bot{}, memory.Invalid(data.path+"name", "is required")
	}
	if spec != "" {
		if bot.AlternateGreetings, err = data.strs("alternate_greetings"); err != nil {
			return bots.Bot{}, err
		}
		if bot.Tags, err = data.strs("tags"); err != nil {
			return bots.Bot{}, err
		}
		if bot.Extensions, err = data.object("extensions"); err != nil {
			return bots.Bot{}, err
		}
		if err := takeLongmem(&bot); err != nil {
			return bots.Bot{}, err
		}
		book, err := data.object("character_book")
		if err != nil {
			return bots.Bot{}, err
		}
		if book != nil {
			if bot.Lorebook, err = parseBook(book, "data.character_book."); err != nil {
				return bots.Bot{}, err
			}
		}
		// An empty group_only_greetings (required in V3) is what an export
		// writes when there is none; the reserved RootKey cannot be a data
		// field.
		if g, ok := data.rest["group_only_greetings"].([]any); ok && len(g) == 0 {
			delete(data.rest, "group_only_greetings")
		}
		delete(data.rest, RootKey)
		bot.Card = nonEmptyMap(data.rest)
	}
	if len(top.rest) > 0 && spec != "" {
		if bot.Card == nil {
			bot.Card = map[string]any{}
		}
		bot.Card[RootKey] = top.rest
	}
	if spec == "" && len(top.rest) > 0 {
		bot.Card = map[string]any{RootKey: top.rest}
	}
	if len(bot.Extensions) == 0 {
		bot.Extensions = nil
	}
	return bot, nil
}

// longmemExt is what an export keeps in data.extensions.longmem.
type longmemExt struct {
	Model    *bots.ModelConfig  `json:"model,omitempty"`
	Memory   *bots.MemoryPolicy `json:"memory,omitempty"`
	Metadata map[string]any     `json:"metadata,omitempty"`
}

// takeLongmem moves data.extensions.longmem into the bot's fields. One that
// does not decode stays in the extensions, verbatim.
func takeLongmem(bot *bots.Bot) error {
	raw, ok := bot.Extensions[LongmemKey]
	if !ok {
		return nil
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return nil
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	d.UseNumber()
	var ext longmemExt
	if d.Decode(&ext) != nil {
		return nil
	}
	if ext.Model != nil {
		bot.Model = *ext.Model
		if len(bot.Model.Stop) == 0 {
			bot.Model.Stop = nil
		}
	}
	if ext.Memory != nil {
		bot.Memory = *ext.Memory
	}
	if len(ext.Metadata) > 0 {
		bot.Metadata = ext.Metadata
	}
	delete(bot.Extensions, LongmemKey)
	return nil
}

func parseBook(m map[string]any, path string) (*bots.Lorebook, error) {
	o := newObj(m, path)
	o.unstash()
	lb, err := o.bookFields()
	if err != nil {
		return nil, err
	}
	raw, ok := o.rest["entries"]
	delete(o.rest, "entries")
	var list []any
	if ok && raw != nil {
		if list, ok = raw.([]any); !ok {
			return nil, memory.Invalid(path+"entries", "must be an array, got %s", kind(raw))
		}
	}
	lb.Entries = make([]bots.LoreEntry, 0, len(list))
	var unset []int // entries whose id is assigned after the others
	taken := map[int]bool{}
	for i, raw := range list {
		em, ok := raw.(map[string]any)
		if !ok {
			return nil, memory.Invalid(fmt.Sprintf("%sentries[%d]", path, i), "must be an object, got %s", kind(raw))
		}
		e, hasID, err := parseEntry(em, fmt.Sprintf("%sentries[%d].", path, i))
		if err != nil {
			return nil, err
		}
		if hasID && taken[e.ID] { // a duplicate id: keep it verbatim, assign another
			e.Extensions = stash(e.Extensions, "id", json.Number(strconv.Itoa(e.ID)))
			hasID = false
		}
		if hasID {
			taken[e.ID] = true
		} else {
			unset = append(unset, i)
		}
		lb.Entries = append(lb.Entries, e)
	}
	assignIDs(lb.Entries, unset, taken)
	lb.Extensions = withFields(lb.Extensions, o.rest)
	return lb, nil
}

// bookFields reads a lorebook's own fields (not its entries), the same in
// a card's character_book and in a World Info file.
func (o obj) bookFields() (*bots.Lorebook, error) {
	lb := &bots.Lorebook{}
	var err error
	if lb.Name, err = o.str("name"); err != nil {
		return nil, err
	}
	if lb.Description, err = o.str("description"); err != nil {
		return nil, err
	}
	if lb.ScanDepth, _, err = o.integer("scan_depth"); err != nil {
		return nil, err
	}
	if lb.TokenBudget, _, err = o.integer("token_budget"); err != nil {
		return nil, err
	}
	if lb.RecursiveScanning, err = o.boolean("recursive_scanning", false); err != nil {
		return nil, err
	}
	if lb.Extensions, err = o.object("extensions"); err != nil {
		return nil, err
	}
	return lb, nil
}

// assignIDs gives the entries at the indexes unset the lowest ids not
// taken, in order.
func assignIDs(entries []bots.LoreEntry, unset []int, taken map[int]bool) {
	next := 0
	for _, i := range unset {
		for taken[next] {
			next++
		}
		entries[i].ID = next
		taken[next] = true
	}
}

// SillyTavern keeps an entry's selective logic in extensions.selectiveLogic.
var stLogic = []string{bots.LogicAndAny, bots.LogicNotAll, bots.LogicNotAny, bots.LogicAndAll}

// stLogicOf is the selective logic ext holds in SillyTavern's way ("" for
// none).
func stLogicOf(ext map[string]any) string {
	var i int64
	switch n := ext["selectiveLogic"].(type) {
	case json.Number:
		var err error
		if i, err = n.Int64(); err != nil {
			return ""
		}
	case int:
		i = int64(n)
	default:
		return ""
	}
	if i < 0 || i >= int64(len(stLogic)) {
		return ""
	}
	return stLogic[i]
}

func parseEntry(m map[string]any, path string) (bots.LoreEntry, bool, error) {
	o := newObj(m, path)
	o.unstash()
	var e bots.LoreEntry
	var err error
	if e.Keys, err = o.keys("keys"); err != nil {
		return e, false, err
	}
	if e.SecondaryKeys, err = o.keys("secondary_keys"); err != nil {
		return e, false, err
	}
	if e.Content, err = o.str("content"); err != nil {
		return e, false, err
	}
	if e.Name, err = o.str("name"); err != nil {
		return e, false, err
	}
	if e.Comment, err = o.str("comment"); err != nil {
		return e, false, err
	}
	for _, f := range []struct {
		key string
		dst *bool
		def bool
	}{{"enabled", &e.Enabled, true}, {"selective", &e.Selective, false}, {"constant", &e.Constant, false}, {"case_sensitive", &e.CaseSensitive, false}} {
		if *f.dst, err = o.boolean(f.key, f.def); err != nil {
			return e, false, err
		}
	}
	if e.InsertionOrder, _, err = o.integer("insertion_order"); err != nil {
		return e, false, err
	}
	if e.Priority, _, err = o.integer("priority"); err != nil {
		return e, false, err
	}
	if e.Extensions, err = o.object("extensions"); err != nil {
		return e, false, err
	}
	e.SelectiveLogic = stLogicOf(e.Extensions)
	if logic, ok := o.rest["selective_logic"].(string); ok { // longmem's own lorebook JSON
		e.SelectiveLogic = logic
		delete(o.rest, "selective_logic")
	}
	hasID := false
	if raw, ok := o.rest["id"]; ok && raw != nil {
		if n, ok := raw.(json.Number); ok {
			if i, err := strconv.ParseInt(n.String(), 10, 32); err == nil && i >= 0 {
				e.ID, hasID = int(i), true
				delete(o.rest, "id")
			}
		}
	} else {
		delete(o.rest, "id")
	}
	if v, ok := o.rest["use_regex"].(bool); ok && !v {
		delete(o.rest, "use_regex") // what a V3 export writes when absent
	}
	if raw, ok := o.rest["position"]; ok {
		if s, ok := raw.(string); ok && (s == "before_char" || s == "after_char") {
			e.Position = s
			delete(o.rest, "position")
		}
	}
	e.Extensions = withFields(e.Extensions, o.rest)
	return e, hasID, nil
}

// withFields returns ext with the unknown fields rest stashed under
// FieldsKey.
func withFields(ext, rest map[string]any) map[string]any {
	for k, v := range rest {
		ext = stash(ext, k, v)
	}
	if len(ext) == 0 {
		return nil
	}
	return ext
}

func stash(ext map[string]any, key string, v any) map[string]any {
	return stashAs(ext, FieldsKey, map[string]any{key: v})
}

// Export writes b as a card in format V2 or V3 (JSON).
func Export(b bots.Bot, f Format) ([]byte, error) {
	var m map[string]any
	switch f {
	case V2:
		m = toMap(b, SpecV2, SpecVersionV2)
	case V3:
		m = toMap(b, SpecV3, SpecVersionV3)
	default:
		return nil, memory.Invalid("format", "unknown card format %q (want v2, v3 or png)", f)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		return nil, fmt.Errorf("card: encode %s: %w", f, err)
	}
	return buf.Bytes(), nil
}

// toMap is the card of b: spec, spec_version, data, the V1 fields mirrored
// at the top level, and the unknown top-level fields b was imported with.
func toMap(b bots.Bot, spec, version string) map[string]any {
	data := map[string]any{}
	for k, v := range b.Card {
		if k != RootKey {
			data[k] = v
		}
	}
	for k, v := range map[string]any{
		"name": b.Name, "description": b.Description, "personality": b.Personality, "scenario": b.Scenario,
		"first_mes": b.FirstMessage, "mes_example": b.ExampleDialogues, "creator_notes": b.CreatorNotes,
		"system_prompt": b.SystemPrompt, "post_history_instructions": b.PostHistoryInstructions,
		"alternate_greetings": nonNil(b.AlternateGreetings), "tags": nonNil(b.Tags),
		"creator": b.Creator, "character_version": b.CharacterVersion,
	} {
		data[k] = v
	}
	ext := maps.Clone(b.Extensions)
	if ext == nil {
		ext = map[string]any{}
	}
	var lm longmemExt
	if b.Model.Backend != "" || b.Model.Model != "" || b.Model.ContextWindow != 0 || b.Model.MaxOutputTokens != 0 ||
		b.Model.Temperature != nil || b.Model.TopP != nil || len(b.Model.Stop) > 0 {
		lm.Model = &b.Model
	}
	if b.Memory != (bots.MemoryPolicy{}) {
		lm.Memory = &b.Memory
	}
	lm.Metadata = b.Metadata
	if lm.Model != nil || lm.Memory != nil || len(lm.Metadata) > 0 {
		ext[LongmemKey] = lm
	}
	data["extensions"] = ext
	if b.Lorebook != nil {
		data["character_book"] = bookMap(*b.Lorebook, spec == SpecV3)
	}
	if spec == SpecV3 {
		if _, ok := data["group_only_greetings"]; !ok {
			data["group_only_greetings"] = []string{}
		}
	}
	root := map[string]any{}
	if r, ok := b.Card[RootKey].(map[string]any); ok {
		maps.Copy(root, r)
	}
	for _, k := range v1Fields {
		root[k] = data[k]
	}
	root["spec"], root["spec_version"], root["data"] = spec, version, data
	return root
}

func bookMap(lb bots.Lorebook, v3 bool) map[string]any {
	m, ext := unstash(lb.Extensions)
	putBookFields(m, lb)
	m["extensions"] = ext
	entries := make([]any, len(lb.Entries))
	for i, e := range lb.Entries {
		em, ext := unstash(e.Extensions)
		if i := slices.Index(stLogic, e.SelectiveLogic); i >= 0 && stLogicOf(ext) != e.SelectiveLogic {
			ext["selectiveLogic"] = i
		}
		if _, ok := em["id"]; !ok {
			em["id"] = e.ID
		}
		em["keys"] = nonNil(e.Keys)
		em["secondary_keys"] = nonNil(e.SecondaryKeys)
		em["comment"] = e.Comment
		em["content"] = e.Content
		em["constant"] = e.Constant
		em["selective"] = e.Selective
		em["insertion_order"] = e.InsertionOrder
		em["enabled"] = e.Enabled
		em["extensions"] = ext
		if e.Name != "" {
			em["name"] = e.Name
		}
		if e.Priority != 0 {
			em["priority"] = e.Priority
		}
		if e.CaseSensitive {
			em["case_sensitive"] = true
		}
		if e.Position != "" {
			em["position"] = e.Position
		}
		if _, ok := em["use_regex"]; !ok && v3 {
			em["use_regex"] = false // required in V3
		}
		entries[i] = em
	}
	m["entries"] = entries
	return m
}

// putBookFields writes a lorebook's own fields that are set into m (what
// bookFields reads).
func putBookFields(m map[string]any, lb bots.Lorebook) {
	if lb.Name != "" {
		m["name"] = lb.Name
	}
	if lb.Description != "" {
		m["description"] = lb.Description
	}
	if lb.ScanDepth != 0 {
		m["scan_depth"] = lb.ScanDepth
	}
	if lb.TokenBudget != 0 {
		m["token_budget"] = lb.TokenBudget
	}
	if lb.RecursiveScanning {
		m["recursive_scanning"] = true
	}
}

// unstash splits ext into the stashed fields (a new map) and the rest (a
// copy, never nil).
func unstash(ext map[string]any) (fields, rest map[string]any) {
	return unstashKey(ext, FieldsKey)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nonEmptyMap(m map[string]any) map[string]any {
	if len(m) == 0 {
		return nil
	}
	return m
}

// obj reads typed fields of a JSON object; what it has not read stays in
// rest. path prefixes field names in errors.
type obj struct {
	rest map[string]any
	path string
}

func newObj(m map[string]any, path string) obj { return obj{rest: maps.Clone(m), path: path} }

// unstash takes the fields stashed under extensions[FieldsKey] (by an
// import that was not exported since) back to where they came from, unless
// the object has a field of that name itself.
func (o obj) unstash() {
	ext, ok := o.rest["extensions"].(map[string]any)
	if !ok {
		return
	}
	f, ok := ext[FieldsKey].(map[string]any)
	if !ok {
		return
	}
	ext = maps.Clone(ext)
	delete(ext, FieldsKey)
	o.rest["extensions"] = ext
	for k, v := range f {
		if _, ok := o.rest[k]; !ok {
			o.rest[k] = v
		}
	}
}

// take removes key and returns its value (nil when absent or null).
func (o obj) take(key string) any {
	v := o.rest[key]
	delete(o.rest, key)
	return v
}

func (o obj) str(key string) (string, error) {
	switch v := o.take(key).(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	default:
		return "", memory.Invalid(o.path+key, "must be a string, got %s", kind(v))
	}
}

func (o obj) strs(key string) ([]string, error) {
	v := o.take(key)
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, memory.Invalid(o.path+key, "must be an array of strings, got %s", kind(v))
	}
	if len(list) == 0 {
		return nil, nil
	}
	out := make([]string, len(list))
	for i, x := range list {
		s, ok := x.(string)
		if !ok {
			return nil, memory.Invalid(fmt.Sprintf("%s%s[%d]", o.path, key, i), "must be a string, got %s", kind(x))
		}
		out[i] = s
	}
	return out, nil
}

// keys reads an array of strings, or a string of comma-separated keys.
func (o obj) keys(key string) ([]string, error) {
	if s, ok := o.rest[key].(string); ok {
		delete(o.rest, key)
		var out []string
		for _, k := range strings.Split(s, ",") {
			if k = strings.TrimSpace(k); k != "" {
				out = append(out, k)
			}
		}
		return out, nil
	}
	keys, err := o.strs(key)
	// Cards in the wild carry blank keys ("" from an editor's empty
	// field); they can match nothing, so they are dropped, not refused.
	// All blank reads as none (nil), as an empty array does.
	keys = slices.DeleteFunc(keys, func(k string) bool { return strings.TrimSpace(k) == "" })
	if len(keys) == 0 {
		keys = nil
	}
	return keys, err
}

func (o obj) boolean(key string, def bool) (bool, error) {
	switch v := o.take(key).(type) {
	case nil:
		return def, nil
	case bool:
		return v, nil
	default:
		return false, memory.Invalid(o.path+key, "must be true or false, got %s", kind(v))
	}
}

// integer reads a number with an integral value that fits in 32 bits.
func (o obj) integer(key string) (int, bool, error) {
	v := o.take(key)
	if v == nil {
		return 0, false, nil
	}
	n, ok := v.(json.Number)
	if !ok {
		return 0, false, memory.Invalid(o.path+key, "must be a number, got %s", kind(v))
	}
	f, err := n.Float64()
	if err != nil || f != math.Trunc(f) || f < math.MinInt32 || f > math.MaxInt32 {
		return 0, false, memory.Invalid(o.path+key, "must be a whole number between %d and %d, got %s", math.MinInt32, math.MaxInt32, n)
	}
	return int(f), true, nil
}

func (o obj) object(key string) (map[string]any, error) {
	v := o.take(key)
	if v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, memory.Invalid(o.path+key, "must be an object, got %s", kind(v))
	}
	return m, nil
}

func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number, float64:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
