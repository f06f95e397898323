package bots

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// MaxAvatarBytes bounds a bot's picture: every version stores it.
const MaxAvatarBytes = 2 << 20

// pngMagic starts every PNG file.
var pngMagic = []byte("\x89PNG\r\n\x1a\n")

// Avatar is a bot's picture: a PNG (a card's image, without the card's
// text chunks), at most MaxAvatarBytes. Stored as base64 in the bot's
// JSON. Decoding accepts, besides that, the object the API shows in its
// place ({"url", "bytes", …}) and reads it as no picture given, so a bot
// read and sent back unchanged does not fail (the API keeps the current
// picture then).
type Avatar []byte

// UnmarshalJSON implements json.Unmarshaler.
func (a *Avatar) UnmarshalJSON(data []byte) error {
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '{' {
		*a = nil
		return nil
	}
	var b []byte
	if err := json.Unmarshal(data, &b); err != nil {
		return fmt.Errorf("avatar: want a base64 PNG: %w", err)
	}
	*a = b
	return nil
}

// IsPNG reports whether a starts like a PNG file.
func (a Avatar) IsPNG() bool { return bytes.HasPrefix(a, pngMagic) }
