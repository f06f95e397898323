package bots

import (
	"strconv"
	"strings"
)

// ETag is the strong entity tag of version v of bot id: `"<id>.v<v>"`,
// quotes included, as sent in the ETag header.
func ETag(id string, version int) string {
	return `"` + id + ".v" + strconv.Itoa(version) + `"`
}

// ParseETag reads a strong entity tag made by ETag. A weak tag (W/"…"), a
// tag without quotes or one of another form is not ok.
func ParseETag(tag string) (id string, version int, ok bool) {
	tag = strings.TrimSpace(tag)
	if len(tag) < 2 || tag[0] != '"' || tag[len(tag)-1] != '"' {
		return "", 0, false
	}
	inner := tag[1 : len(tag)-1]
	dot := strings.LastIndex(inner, ".v")
	if dot < 0 {
		return "", 0, false
	}
	id, num := inner[:dot], inner[dot+2:]
	if !ValidID(id) || num == "" || num[0] == '0' || len(num) > 9 {
		return "", 0, false
	}
	v, err := strconv.Atoi(num)
	if err != nil || v < 1 {
		return "", 0, false
	}
	return id, v, true
}
