package store

import (
	"fmt"
	"math"
	"regexp"
)

// MaxNamePattern bounds the length (bytes) of RoomQuery.Name in MatchRegex
// mode: a longer pattern is ErrInvalid. Go's regexp runs in time linear in
// its input, but compiling a pattern costs in its length, and a store
// compiles it once per query.
const MaxNamePattern = 512

// NullDate is where a room without an autoDeletionDate sorts among dated
// rooms: after all of them (the largest epoch ms), as if it were never
// deleted. Stores that sort on an expression use this value for it.
const NullDate = int64(math.MaxInt64)

// Check fills q's defaults (NameMatch exact, Sort creationDate) and checks
// it: an unknown match mode or sort field, a Limit below 1, or a name
// pattern (MatchRegex) that is too long or does not compile is ErrInvalid.
// Both stores call it first, so they accept the same queries; a regular
// expression is checked with Go's syntax (RE2), the common ground of
// SQLite's REGEXP (Go's regexp) and MongoDB's PCRE for the patterns room
// names need.
func (q *RoomQuery) Check() error {
	if q.NameMatch == "" {
		q.NameMatch = MatchExact
	}
	if q.Sort == "" {
		q.Sort = SortCreationDate
	}
	switch q.NameMatch {
	case MatchExact, MatchPrefix, MatchPartial, MatchRegex:
	default:
		return fmt.Errorf("room query: name match mode %q: %w", q.NameMatch, ErrInvalid)
	}
	switch q.Sort {
	case SortCreationDate, SortRoomName, SortAutoDeletionDate:
	default:
		return fmt.Errorf("room query: sort field %q: %w", q.Sort, ErrInvalid)
	}
	if q.Limit < 1 {
		return fmt.Errorf("room query: limit %d: %w", q.Limit, ErrInvalid)
	}
	if q.Name != "" && q.NameMatch == MatchRegex {
		if len(q.Name) > MaxNamePattern {
			return fmt.Errorf("room query: name pattern longer than %d bytes: %w", MaxNamePattern, ErrInvalid)
		}
		if _, err := regexp.Compile(q.Name); err != nil {
			return fmt.Errorf("room query: name pattern: %w: %w", ErrInvalid, err)
		}
	}
	return nil
}

// NameEquals reports whether q's name filter is a plain, case-sensitive
// equality (which an index on roomName answers directly).
func (q *RoomQuery) NameEquals() bool {
	return q.Name != "" && q.NameMatch == MatchExact && !q.NameCaseInsensitive
}

// NamePattern is q's name filter as a regular expression (Go syntax, which
// for these patterns is also PCRE's): NameRegexp, prefixed with (?i) when
// case-insensitive. Empty when q has no name filter. Call it after Check.
func (q *RoomQuery) NamePattern() string {
	p := q.NameRegexp()
	if p != "" && q.NameCaseInsensitive {
		p = `(?i)` + p
	}
	return p
}

// NameRegexp is q's name filter as a regular expression without its case
// flag: the text quoted and anchored for the exact, prefix and partial
// modes, the pattern itself for MatchRegex. Empty when q has no name
// filter. Call it after Check.
func (q *RoomQuery) NameRegexp() string {
	if q.Name == "" {
		return ""
	}
	switch q.NameMatch {
	case MatchPrefix:
		return `^` + regexp.QuoteMeta(q.Name)
	case MatchPartial:
		return regexp.QuoteMeta(q.Name)
	case MatchRegex:
		return q.Name
	default: // exact
		return `^` + regexp.QuoteMeta(q.Name) + `\z`
	}
}

// Cursor is r's position in the order of a RoomQuery sorted by sort
// (SortCreationDate when empty): pass the cursor of the last room of a
// page as the next query's After.
func (r *Room) Cursor(sort string) RoomCursor {
	switch sort {
	case SortRoomName:
		return RoomCursor{Str: r.RoomName, HasValue: true, RoomID: r.RoomID}
	case SortAutoDeletionDate:
		if r.AutoDeletionDate == nil {
			return RoomCursor{RoomID: r.RoomID}
		}
		return RoomCursor{Int: *r.AutoDeletionDate, HasValue: true, RoomID: r.RoomID}
	default:
		return RoomCursor{Int: r.CreationDate, HasValue: true, RoomID: r.RoomID}
	}
}

// DateKey is the cursor's date as a total order: its date, or NullDate for
// a room without one.
func (c *RoomCursor) DateKey() int64 {
	if !c.HasValue {
		return NullDate
	}
	return c.Int
}
