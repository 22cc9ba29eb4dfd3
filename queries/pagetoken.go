package queries

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/store"
)

// pageTokenPrefix versions the page token, which is otherwise opaque.
// Version 1 held a room ID (ascending ID order, before sorting existed);
// version 2 holds a position in a sorted listing.
const pageTokenPrefix = "r2:"

// pageTokenSumLen is the length of the digest a token ends with.
const pageTokenSumLen = 8

// maxTokenValue bounds the strings a token may carry (a room ID, a room
// name), far above what create accepts.
const maxTokenValue = 1024

// pageCursor is what a page token holds: the listing's order and the last
// room's position in it.
type pageCursor struct {
	Sort     string `json:"s"`
	Desc     bool   `json:"d,omitempty"`
	Int      int64  `json:"i,omitempty"`
	Str      string `json:"n,omitempty"`
	HasValue bool   `json:"v,omitempty"`
	RoomID   string `json:"id"`
}

// PageToken is the opaque nextPageToken of a page of the listing in order
// (sort, desc) that ends at position c: the listing resumes just after it
// (keyset pagination), so rooms created or deleted between pages shift
// nothing: a room that exists throughout the listing is returned exactly
// once.
//
// The token ends with a digest of its content, so a token cut, corrupted or
// edited by hand is refused (invalid_argument) rather than read. The digest
// has no key: someone who forges a token only chooses where their own
// listing starts, which any filter lets them do anyway.
func PageToken(sort string, desc bool, c store.RoomCursor) string {
	return sealToken(pageTokenPrefix, pageCursor{Sort: sort, Desc: desc, Int: c.Int, Str: c.Str, HasValue: c.HasValue, RoomID: c.RoomID})
}

// sealToken is cursor as a page token: prefix (the kind and version) and
// cursor's JSON, closed with the first pageTokenSumLen bytes of their
// SHA-256, in unpadded base64url.
func sealToken(prefix string, cursor any) string {
	raw, _ := json.Marshal(cursor)
	payload := append([]byte(prefix), raw...)
	sum := sha256.Sum256(payload)
	return base64.RawURLEncoding.EncodeToString(append(payload, sum[:pageTokenSumLen]...))
}

// openToken reads into cursor a token sealToken made with prefix; false
// when it is not one (cut, altered, another kind, unknown fields).
func openToken(tok, prefix string, cursor any) bool {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(raw) <= len(prefix)+pageTokenSumLen {
		return false
	}
	payload, sum := raw[:len(raw)-pageTokenSumLen], raw[len(raw)-pageTokenSumLen:]
	want := sha256.Sum256(payload)
	if !bytes.Equal(sum, want[:pageTokenSumLen]) || !bytes.HasPrefix(payload, []byte(prefix)) {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(payload[len(prefix):]))
	dec.DisallowUnknownFields()
	return dec.Decode(cursor) == nil && !dec.More()
}

// parsePageToken returns the position a token resumes after; the token must
// be one of this listing's order (sort, desc).
func parsePageToken(tok, sort string, desc bool) (*store.RoomCursor, error) {
	bad := func(msg string) error {
		return events.Invalid("invalid "+events.APIList+" request",
			events.FieldError{Field: "nextPageToken", Message: msg})
	}
	var c pageCursor
	if !openToken(tok, pageTokenPrefix, &c) {
		return nil, bad("is not a token of this service")
	}
	switch {
	case c.RoomID == "" || len(c.RoomID) > maxTokenValue || len(c.Str) > maxTokenValue:
		return nil, bad("is not a token of this service")
	case c.Sort != sort || c.Desc != desc:
		return nil, bad("belongs to a listing in another order (sortField, sortOrder)")
	}
	return &store.RoomCursor{Int: c.Int, Str: c.Str, HasValue: c.HasValue, RoomID: c.RoomID}, nil
}
