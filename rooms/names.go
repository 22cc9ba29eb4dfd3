package rooms

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Room names and IDs in OpenVidu Meet's current model (upstream
// MeetRoomHelper): a name keeps every character, an ID is derived from it.

// DefaultRoomName is the name of a room created without one.
const DefaultRoomName = "Room"

// defaultIDPrefix is the ID prefix of a room whose name leaves nothing.
const defaultIDPrefix = "room"

// idSuffixLen is the length of the random part of a room ID.
const idSuffixLen = 15

// CleanRoomName trims a room name and collapses its whitespace runs into
// one space; every other character is kept. An empty result means the
// room takes DefaultRoomName.
func CleanRoomName(s string) string {
	return strings.Join(strings.FieldsFunc(s, unicode.IsSpace), " ")
}

// RoomIDPrefix derives the ID prefix of a room from its name, as upstream
// does: the name NFD-normalised (so accents fall off their letters),
// lowercased, '-' and whitespace turned into '_', everything but
// [a-z0-9_] dropped, '_' runs collapsed and trimmed at both ends. A name
// that leaves nothing gives "room".
func RoomIDPrefix(name string) string {
	var b strings.Builder
	for _, c := range norm.NFD.String(name) {
		c = unicode.ToLower(c)
		switch {
		case c == '-' || unicode.IsSpace(c):
			c = '_'
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_':
		default:
			continue
		}
		if c == '_' && strings.HasSuffix(b.String(), "_") {
			continue
		}
		b.WriteRune(c)
	}
	if p := strings.Trim(b.String(), "_"); p != "" {
		return p
	}
	return defaultIDPrefix
}

// CleanRoomID keeps the characters of a room ID a client sent that an ID
// may hold ([A-Za-z0-9_-]) and drops the rest (upstream sanitizeRoomId). An
// empty result is no room ID.
func CleanRoomID(s string) string {
	return strings.Map(func(c rune) rune {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' {
			return c
		}
		return -1
	}, s)
}
