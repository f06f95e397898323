package api

import (
	"bytes"
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/longmem/longmem/memory"
)

// MaxIDLen is the longest conversation id (and tenant) accepted.
const MaxIDLen = 128

// maxEcho is how much of a client's bad value an error message quotes, in
// bytes: enough to recognise it, never a 100 KB echo.
const maxEcho = 64

// quote is s quoted for an error message: whole when short, else its first
// maxEcho bytes (at a character boundary) and its length.
func quote(s string) string {
	if len(s) <= maxEcho {
		return strconv.Quote(s)
	}
	cut := maxEcho
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d bytes)", strconv.Quote(s[:cut]), len(s))
}

// validID checks an id: 1..MaxIDLen characters of [A-Za-z0-9._:-], not
// "." or ".." (which path handling would read as directories).
func validID(id string) error {
	if id == "" {
		return errors.New("must not be empty")
	}
	if id == "." || id == ".." {
		return errors.New(`must not be "." or ".."`)
	}
	if len(id) > MaxIDLen {
		return fmt.Errorf("is %d characters; the maximum is %d", len(id), MaxIDLen)
	}
	for i := 0; i < len(id); i++ {
		b := id[i]
		switch {
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9',
			b == '.', b == '_', b == ':', b == '-':
		default:
			return fmt.Errorf("has a character not in [A-Za-z0-9._:-] at position %d", i)
		}
	}
	return nil
}

// idParam is the path's conversation id, validated.
func idParam(c echo.Context) (string, error) {
	id := c.Param("id")
	if err := validID(id); err != nil {
		return "", memory.Invalid("id", "conversation id %s %v", quote(id), err)
	}
	return id, nil
}

// seqParam is the path's turn seq: a positive integer.
func seqParam(c echo.Context) (int64, error) {
	s := c.Param("seq")
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 {
		return 0, memory.Invalid("seq", "%s is not a turn seq (want an integer ≥ 1)", quote(s))
	}
	return n, nil
}

// limitQuery parses ?limit=: absent means memory.DefaultListLimit; else an
// integer in 1..memory.MaxListLimit.
func limitQuery(c echo.Context) (int, error) {
	s := c.QueryParam("limit")
	if s == "" {
		return memory.DefaultListLimit, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > memory.MaxListLimit {
		return 0, memory.Invalid("limit", "%s is not a valid limit (want an integer from 1 to %d)", quote(s), memory.MaxListLimit)
	}
	return n, nil
}

// seqQuery parses ?after= for turns: absent means 0; else an integer ≥ 0.
func seqQuery(c echo.Context, name string) (int64, error) {
	s := c.QueryParam(name)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, memory.Invalid(name, "%s is not a turn seq (want an integer ≥ 0)", quote(s))
	}
	return n, nil
}

// textQuery is an optional free-text query parameter: valid UTF-8, at most
// max bytes.
func textQuery(c echo.Context, name string, max int) (string, error) {
	s := c.QueryParam(name)
	if !utf8.ValidString(s) {
		return "", memory.Invalid(name, "is not valid UTF-8")
	}
	if len(s) > max {
		return "", memory.Invalid(name, "is %d bytes; the maximum is %d", len(s), max)
	}
	return s, nil
}

// decodeJSON reads the body (capped by limitBody) into dst: one JSON
// object, valid UTF-8, no unknown fields, nothing after it. An empty body
// is allowed when emptyOK, leaving dst as it is.
func decodeJSON(c echo.Context, dst any, emptyOK bool) error {
	return decodeJSONWith(c, dst, emptyOK, true)
}

// decodeJSONWith is decodeJSON; unknown fields are an error only when
// strict (the OpenAI-compatible routes accept the many fields clients
// send that longmem does not read).
func decodeJSONWith(c echo.Context, dst any, emptyOK, strict bool) error {
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return memory.Invalid("body", "reading the request body: %v", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if emptyOK {
			return nil
		}
		return memory.Invalid("body", "the request body is empty; want a JSON object")
	}
	if !utf8.Valid(body) {
		return memory.Invalid("body", "the request body is not valid UTF-8 (first bad byte at offset %d)", firstInvalidUTF8(body))
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(dst); err != nil {
		var (
			se *json.SyntaxError
			te *json.UnmarshalTypeError
		)
		switch {
		case errors.As(err, &se):
			return memory.Invalid("body", "invalid JSON at byte offset %d: %v", se.Offset, err)
		case errors.As(err, &te):
			field := jsonPathAt(body, te.Offset)
			if field == "" {
				field = te.Field
			}
			if field == "" {
				field = "body"
			}
			return memory.Invalid(field, "got a JSON %s; want %s", te.Value, jsonKind(te.Type.Kind().String()))
		case errors.Is(err, io.ErrUnexpectedEOF):
			return memory.Invalid("body", "invalid JSON: the body ends in the middle of a value")
		}
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			name, _ = strconv.Unquote(name)
			return memory.Invalid(jsonKeyPath(body, name), "is not a field of this request (misspelt? GET /openapi.json lists the fields)")
		}
		return memory.Invalid("body", "invalid JSON: %v", err)
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); err != io.EOF {
		return memory.Invalid("body", "unexpected data after the JSON object")
	}
	return nil
}

// jsonFrame is one open object or array while walking a JSON document.
type jsonFrame struct {
	array     bool
	index     int    // arrays: the index of the next value
	key       string // objects: the key of the current value
	expectKey bool   // objects: the next token is a key
}

// walkJSON calls visit with the path (turns[1].metadata) and end offset of
// every value's first token in body, in document order, until visit
// returns false or the body ends or is malformed.
func walkJSON(body []byte, visit func(path string, end int64) bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	var stack []jsonFrame
	path := func() string {
		var b strings.Builder
		for _, f := range stack {
			if f.array {
				fmt.Fprintf(&b, "[%d]", f.index)
				continue
			}
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(f.key)
		}
		return b.String()
	}
	done := func() { // a value ended: the parent moves on
		if n := len(stack); n > 0 {
			if stack[n-1].array {
				stack[n-1].index++
			} else {
				stack[n-1].expectKey = true
			}
		}
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return
		}
		if n := len(stack); n > 0 && !stack[n-1].array && stack[n-1].expectKey {
			if k, ok := tok.(string); ok {
				stack[n-1].key, stack[n-1].expectKey = k, false
				continue
			}
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			done()
			continue
		}
		if !visit(path(), dec.InputOffset()) {
			return
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, jsonFrame{expectKey: true})
		case json.Delim('['):
			stack = append(stack, jsonFrame{array: true})
		default:
			done()
		}
	}
}

// jsonPathAt is the path of the value of body whose first token ends at or
// after offset (where encoding/json reports a type error), "" when there
// is none.
func jsonPathAt(body []byte, offset int64) string {
	var at string
	walkJSON(body, func(path string, end int64) bool {
		if end >= offset {
			at = path
			return false
		}
		return true
	})
	return at
}

// jsonKeyPath is the path of the only value under key name in body, else
// name itself (the key is also in a free-form object such as metadata).
func jsonKeyPath(body []byte, name string) string {
	var found []string
	walkJSON(body, func(path string, _ int64) bool {
		if path == name || strings.HasSuffix(path, "."+name) {
			found = append(found, path)
		}
		return true
	})
	if len(found) == 1 {
		return found[0]
	}
	return name
}

// jsonKind names a Go kind the way a JSON client thinks of it.
func jsonKind(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "map", "struct":
		return "an object"
	case "slice", "array":
		return "an array"
	case "bool":
		return "a boolean"
	case "int", "int64", "int32", "float64", "float32", "uint", "uint64":
		return "a number"
	}
	return kind
}

// firstInvalidUTF8 is the offset of the first byte of b that is not valid
// UTF-8.
func firstInvalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}

// base32Sortable encodes with the alphabet 0-9a-v, which keeps byte order.
var base32Sortable = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)

// newID makes a conversation id: "c" + 26 characters of base32 over 48 bits
// of milliseconds and 80 random bits, so ids sort by creation time.
func newID(now time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli())<<16)
	_, _ = rand.Read(b[6:])
	return "c" + base32Sortable.EncodeToString(b[:])
}
