package bots

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"

	"github.com/longmem/longmem/memory"
)

// MergePatch applies the JSON merge patch (RFC 7396) patch to b's JSON
// form and returns the result: members of the patch replace b's, a null
// removes one, objects merge recursively, and anything else (arrays
// included) replaces the whole value. The patch must be a JSON object whose
// members are Bot fields; a member of the wrong type or an unknown one is a
// *memory.InvalidError naming it. Tenant is kept. The result is not
// validated (see Validate) and the fields the store sets (version, author,
// times) are whatever the patch leaves; the store overwrites them.
func MergePatch(b Bot, patch []byte) (Bot, error) {
	var p any
	dec := json.NewDecoder(bytes.NewReader(patch))
	dec.UseNumber()
	if err := dec.Decode(&p); err != nil {
		return Bot{}, memory.Invalid("body", "invalid JSON merge patch: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Bot{}, memory.Invalid("body", "unexpected data after the JSON merge patch")
	}
	po, ok := p.(map[string]any)
	if !ok {
		return Bot{}, memory.Invalid("body", "a merge patch of a bot must be a JSON object")
	}
	doc, err := json.Marshal(b)
	if err != nil {
		return Bot{}, err
	}
	var target any
	dec = json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	if err := dec.Decode(&target); err != nil {
		return Bot{}, err
	}
	merged, err := json.Marshal(mergePatch(target, po))
	if err != nil {
		return Bot{}, err
	}
	out, err := DecodeJSON(merged)
	if err != nil {
		return Bot{}, err
	}
	out.Tenant = b.Tenant
	return out, nil
}

// mergePatch is RFC 7396's MergePatch(Target, Patch) for an object patch.
func mergePatch(target any, patch map[string]any) any {
	t, ok := target.(map[string]any)
	if !ok {
		t = map[string]any{}
	}
	for k, v := range patch {
		switch v := v.(type) {
		case nil:
			delete(t, k)
		case map[string]any:
			t[k] = mergePatch(t[k], v)
		default:
			t[k] = v
		}
	}
	return t
}

// DecodeJSON decodes one bot from its JSON form strictly: unknown members
// and members of the wrong type are a *memory.InvalidError naming the
// field, as is anything after the object.
func DecodeJSON(data []byte) (Bot, error) {
	var b Bot
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		var (
			se *json.SyntaxError
			te *json.UnmarshalTypeError
		)
		switch {
		case errors.As(err, &se):
			return Bot{}, memory.Invalid("body", "invalid JSON at byte offset %d: %v", se.Offset, err)
		case errors.As(err, &te):
			field := te.Field
			if field == "" {
				field = "body"
			}
			return Bot{}, memory.Invalid(field, "got a JSON %s; want %s", te.Value, jsonKind(te.Type))
		}
		return Bot{}, memory.Invalid("body", "invalid bot JSON: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Bot{}, memory.Invalid("body", "unexpected data after the bot's JSON object")
	}
	return b, nil
}

// jsonKind names a Go type the way a JSON client thinks of it.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Float64, reflect.Float32:
		return "a number"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return t.String()
}
