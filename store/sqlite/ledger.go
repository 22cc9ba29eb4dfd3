package sqlite

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/roomkeeper/roomkeeper/store"
)

// qFindCommands is FindCommands: records of status ?1 strictly before the
// position (?2 updated_at, ?3 id) in (updated_at, id) descending order, at
// most ?4. The first conjunct bounds the walk of commands_prune (status,
// updated_at), so a page reads about ?4 entries however deep it is; ties on
// updated_at are ordered by id in a small sort. INDEXED BY makes SQLite
// fail the statement rather than scan the ledger should the index ever
// stop matching.
const qFindCommands = `SELECT id, type, status, result, created_at, updated_at, published
	FROM commands INDEXED BY ` + indexPrune + `
	WHERE status = ?1 AND updated_at <= ?2 AND (updated_at < ?2 OR id < ?3)
	ORDER BY updated_at DESC, id DESC LIMIT ?4`

// FindCommands implements store.LedgerReader.
func (s *Store) FindCommands(ctx context.Context, q store.CommandQuery) ([]store.Command, error) {
	const op = "find commands"
	if err := s.check(op); err != nil {
		return nil, err
	}
	if err := q.Check(); err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	// The first page starts above every record: any id sorts below the
	// largest updated_at's tie-breaker when updated_at is smaller.
	at, id := int64(math.MaxInt64), ""
	if q.After != nil {
		at, id = q.After.UpdatedAt.UnixMilli(), q.After.ID
	}
	rows, err := s.reader.QueryContext(ctx, qFindCommands, q.Status, at, id, q.Limit)
	if err != nil {
		return nil, s.wrap(op, err)
	}
	defer func() { _ = rows.Close() }()
	out := make([]store.Command, 0, min(q.Limit, 128))
	for rows.Next() {
		var (
			c                store.Command
			result           []byte
			created, updated int64
		)
		if err := rows.Scan(&c.ID, &c.Type, &c.Status, &result, &created, &updated, &c.Published); err != nil {
			return nil, s.wrap(op, err)
		}
		c.CreatedAt = time.UnixMilli(created).UTC()
		c.UpdatedAt = time.UnixMilli(updated).UTC()
		if len(result) > 0 {
			c.Result = result
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap(op, err)
	}
	return out, nil
}
