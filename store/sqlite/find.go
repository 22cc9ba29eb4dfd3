package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"regexp"
	"strings"
	"sync"

	sqlite "modernc.org/sqlite"

	"github.com/roomkeeper/roomkeeper/store"
)

// FindRooms' name filters other than a case-sensitive equality are a
// regular expression (store.RoomQuery.NamePattern) evaluated by a REGEXP
// function backed by Go's regexp, in the statement that walks the sort's
// index: `room_name REGEXP ?`. The alternative, filtering in Go over an
// index walk, would scan and ship every row the filter rejects to Go and
// fetch again until a page is full; in SQL the rejected rows never leave
// SQLite, and the page is one statement with its LIMIT. Go's regexp runs
// in time linear in the name (no catastrophic backtracking), and patterns
// are checked first (store.RoomQuery.Check: bounded length, compiled; an
// invalid one is store.ErrInvalid), so the function only sees patterns
// that compile. One expression serves every mode, so exact, prefix and
// partial matches fold case the same way (Unicode simple folding) as a
// regex with (?i).

// regexpFunc is the SQL function behind `x REGEXP y` (SQLite calls
// regexp(y, x)).
const regexpFunc = "regexp"

var registerRegexp = sync.OnceValue(func() error {
	return sqlite.RegisterDeterministicScalarFunction(regexpFunc, 2, sqlRegexp)
})

// regexps caches compiled patterns: a query calls the function once per
// row it examines, with the same pattern.
var regexps struct {
	sync.Mutex
	m map[string]*regexp.Regexp
}

// maxCachedRegexps bounds the cache; it is emptied when full.
const maxCachedRegexps = 64

func compiled(pattern string) (*regexp.Regexp, error) {
	regexps.Lock()
	defer regexps.Unlock()
	if re, ok := regexps.m[pattern]; ok {
		return re, nil
	}
	if len(pattern) > 2*store.MaxNamePattern {
		// Never from FindRooms, which checks its patterns; a bound for any
		// other SQL that would call the function.
		return nil, fmt.Errorf("regexp: pattern longer than %d bytes", 2*store.MaxNamePattern)
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, err
	}
	if len(regexps.m) >= maxCachedRegexps || regexps.m == nil {
		regexps.m = map[string]*regexp.Regexp{}
	}
	regexps.m[pattern] = re
	return re, nil
}

// sqlRegexp is regexp(pattern, text): 1 when text matches, 0 when not,
// NULL when either is NULL.
func sqlRegexp(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
	if args[0] == nil || args[1] == nil {
		return nil, nil
	}
	pattern, ok := args[0].(string)
	if !ok {
		return nil, fmt.Errorf("regexp: pattern is %T, not text", args[0])
	}
	var text string
	switch v := args[1].(type) {
	case string:
		text = v
	case []byte:
		text = string(v)
	default:
		text = fmt.Sprint(v)
	}
	re, err := compiled(pattern)
	if err != nil {
		return nil, err
	}
	if re.MatchString(text) {
		return int64(1), nil
	}
	return int64(0), nil
}

// sortKeys are, per sort field, the expression FindRooms orders by and the
// index whose entries are in (that expression, id) order.
var sortKeys = map[string]struct{ expr, index string }{
	store.SortCreationDate:     {"creation_date", "rooms_created"},
	store.SortRoomName:         {"room_name", "rooms_name"},
	store.SortAutoDeletionDate: {deletionKey, "rooms_deletion"},
}

// findShape is what a FindRooms statement depends on; the statement of
// each shape is prepared once.
type findShape struct {
	sort      string
	desc      bool
	after     bool
	status    bool
	nameEq    bool
	nameMatch bool
}

// findQuery is the statement of shape f, in two steps. The subquery page
// walks the index of the sort from the cursor in the query's order, checks
// the filters on the index entries (every sort's index holds status and
// room_name) and stops after LIMIT entries, with no sort: a page costs the
// entries it passes, not the rooms. Only then are the page's rooms read,
// by ID. The two steps matter: rooms is WITHOUT ROWID, for which SQLite
// reads each table row before checking a filter whenever the statement
// returns columns beyond the index's, some 20 µs a room (a walk past 30,000
// non-matching rooms took 3 s instead of 10 ms). The outer ORDER BY sorts
// the page's rows (at most LIMIT). INDEXED BY makes SQLite fail the
// statement rather than read every room should the index stop matching. A
// name equality goes through rooms_name instead (the few rooms of that
// name, then sorted).
func findQuery(f findShape) string {
	key := sortKeys[f.sort]
	index := key.index
	if f.nameEq {
		index = "rooms_name"
	}
	cmp, dir := ">", "ASC"
	if f.desc {
		cmp, dir = "<", "DESC"
	}
	// The keyset (key, id) > (?, ?) spelled so that its first term is a
	// range of the key, which SQLite seeks to whatever the index.
	var b strings.Builder
	fmt.Fprintf(&b, "SELECT %s FROM (SELECT id AS page_id, %s AS page_key FROM rooms INDEXED BY %s WHERE 1",
		roomCols, key.expr, index)
	if f.after {
		fmt.Fprintf(&b, " AND %[1]s %[2]s= ? AND (%[1]s %[2]s ? OR id %[2]s ?)", key.expr, cmp)
	}
	if f.status {
		b.WriteString(" AND status = ?")
	}
	if f.nameEq {
		b.WriteString(" AND room_name = ?")
	}
	if f.nameMatch {
		b.WriteString(" AND room_name " + regexpFunc + " ?")
	}
	fmt.Fprintf(&b, " ORDER BY %[1]s %[2]s, id %[2]s LIMIT ?) AS page CROSS JOIN rooms ON rooms.id = page.page_id", key.expr, dir)
	fmt.Fprintf(&b, " ORDER BY page.page_key %[1]s, page.page_id %[1]s", dir)
	return b.String()
}

// finds holds the prepared FindRooms statements, by shape.
type finds struct {
	mu    sync.Mutex
	stmts map[findShape]*sql.Stmt
}

func (s *Store) findStmt(ctx context.Context, f findShape) (*sql.Stmt, error) {
	s.finds.mu.Lock()
	defer s.finds.mu.Unlock()
	if st, ok := s.finds.stmts[f]; ok {
		return st, nil
	}
	st, err := s.reader.PrepareContext(ctx, findQuery(f))
	if err != nil {
		return nil, err
	}
	if s.finds.stmts == nil {
		s.finds.stmts = map[findShape]*sql.Stmt{}
	}
	s.finds.stmts[f] = st
	return st, nil
}

// FindRooms returns up to q.Limit rooms matching q in q's order, starting
// just after q.After, through the index of q's sort (see findQuery). An
// invalid query is store.ErrInvalid.
func (s *Store) FindRooms(ctx context.Context, q store.RoomQuery) ([]store.Room, error) {
	const op = "find rooms"
	if err := s.check(op); err != nil {
		return nil, err
	}
	if err := q.Check(); err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	f := findShape{
		sort: q.Sort, desc: q.Desc, after: q.After != nil, status: q.Status != "",
		nameEq: q.NameEquals(), nameMatch: q.Name != "" && !q.NameEquals(),
	}
	var args []any
	if c := q.After; c != nil {
		switch q.Sort {
		case store.SortRoomName:
			args = append(args, c.Str, c.Str, c.RoomID)
		case store.SortAutoDeletionDate:
			args = append(args, c.DateKey(), c.DateKey(), c.RoomID)
		default:
			args = append(args, c.Int, c.Int, c.RoomID)
		}
	}
	if f.status {
		args = append(args, q.Status)
	}
	if f.nameEq {
		args = append(args, q.Name)
	}
	if f.nameMatch {
		args = append(args, q.NamePattern())
	}
	args = append(args, q.Limit)
	stmt, err := s.findStmt(ctx, f)
	if err != nil {
		return nil, s.wrap(op, err)
	}
	rooms, err := scanRooms(ctx, stmt, args...)
	if err != nil {
		return nil, s.wrap(op, err)
	}
	return rooms, nil
}
