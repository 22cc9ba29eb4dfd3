package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/roomkeeper/roomkeeper/store"
)

// Store is the SQLite store. It is safe for concurrent use by many
// goroutines, and by many processes sharing the file.
type Store struct {
	path   string
	writer *sql.DB // one connection: every write
	reader *sql.DB // read-only connections: every read
	// checkpointer is one connection for checkpointLoop.
	checkpointer *sql.DB
	closed       atomic.Bool

	// life is read-held by every write and taken by Close, which so waits
	// for the writes in progress.
	life sync.RWMutex
	// qmu guards the write queue (see write) and the leader's batch slice.
	qmu   sync.Mutex
	queue []*writeReq
	batch []*writeReq
	quit  chan struct{} // closed by Close
	// batches counts the write batches run, for checkpointLoop.
	batches atomic.Uint64

	checkpointDone chan struct{} // closed when checkpointLoop returns

	// Prepared statements, on the writer (w*) or the reader (r*).
	wInsertRoom, wUpdateRoom, wDeleteRoom     *sql.Stmt
	wRoomExists, wGetCommand                  *sql.Stmt
	rGetRoom, rListRooms, rExpired, rMarked   *sql.Stmt
	rCountRooms, rPing                        *sql.Stmt
	wClaim, wSetPlan, wComplete, wPutArchived *sql.Stmt
	rGetCommand, rGetArchived                 *sql.Stmt
	wPrune, wPublished                        *sql.Stmt
	wHistoryAdd, wHistoryLast, rHistory       *sql.Stmt
	// finds are FindRooms' statements, prepared on first use.
	finds finds
}

var _ store.Store = (*Store)(nil)

// Open opens (creating it if needed) the database file cfg.Path and its
// schema. A directory it creates is 0700; the database file and the files
// SQLite keeps beside it are made 0600 (see makePrivate).
func Open(ctx context.Context, cfg Config) (*Store, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := registerRegexp(); err != nil {
		return nil, fmt.Errorf("sqlite: register %s: %w", regexpFunc, err)
	}
	if dir := filepath.Dir(cfg.Path); dir != "" {
		if err := os.MkdirAll(dir, dirMode); err != nil {
			return nil, fmt.Errorf("sqlite: open %s: %w: %w", cfg.Path, store.ErrUnavailable, err)
		}
	}
	if err := makePrivate(cfg.Path); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w: %w", cfg.Path, store.ErrUnavailable, err)
	}
	s := &Store{
		path: cfg.Path,
		quit: make(chan struct{}),

		checkpointDone: make(chan struct{}),
	}
	fail := func(err error) (*Store, error) {
		_ = s.closeDBs()
		return nil, s.wrap("open "+cfg.Path, err)
	}

	var err error
	s.writer, err = sql.Open("sqlite", dsn(cfg, false))
	if err != nil {
		return fail(err)
	}
	s.writer.SetMaxOpenConns(1)
	s.writer.SetMaxIdleConns(1)
	s.writer.SetConnMaxIdleTime(0)
	s.writer.SetConnMaxLifetime(0)
	if err := migrate(ctx, s.writer); err != nil {
		return fail(err)
	}
	// The WAL files the writer just opened, had they been left open to
	// others.
	if err := makePrivate(cfg.Path); err != nil {
		return fail(err)
	}

	s.reader, err = sql.Open("sqlite", dsn(cfg, true))
	if err != nil {
		return fail(err)
	}
	s.reader.SetMaxOpenConns(cfg.MaxOpenConns)
	s.reader.SetMaxIdleConns(cfg.MaxOpenConns)
	s.reader.SetConnMaxIdleTime(0)
	s.reader.SetConnMaxLifetime(0)

	if err := s.prepare(ctx); err != nil {
		return fail(err)
	}
	s.checkpointer, err = sql.Open("sqlite", dsn(cfg, false))
	if err != nil {
		return fail(err)
	}
	s.checkpointer.SetMaxOpenConns(1)
	go s.checkpointLoop(cfg.CheckpointInterval)
	return s, nil
}

// walSafetyPages is the WAL size (pages) at which the writer checkpoints
// by itself; checkpointLoop normally keeps the WAL far below it.
const walSafetyPages = 20000

// checkpointLoop runs passive checkpoints on a connection of its own, so
// the copy of the WAL into the database and its fsync never stall a
// commit (they would, in the writer, every thousand pages: the latency
// tail of every command).
func (s *Store) checkpointLoop(interval time.Duration) {
	defer close(s.checkpointDone)
	t := time.NewTicker(interval)
	defer t.Stop()
	var seen uint64
	for {
		select {
		case <-s.quit:
			return
		case <-t.C:
			// Only after writes: an idle store does not wake the disk.
			if n := s.batches.Load(); n != seen {
				seen = n
				_, _ = s.checkpointer.Exec(`PRAGMA wal_checkpoint(PASSIVE)`)
			}
		}
	}
}

// dsn is the data source name of the writer or of a reader connection.
func dsn(cfg Config, readOnly bool) string {
	q := url.Values{}
	q.Set("_busy_timeout", strconv.FormatInt(cfg.BusyTimeout.Milliseconds(), 10))
	q.Set("_synchronous", "NORMAL")
	q.Set("_foreign_keys", "0")
	q.Set("_txlock", "immediate")
	q.Add("_pragma", fmt.Sprintf("cache_size(-%d)", cfg.CacheSizeKiB))
	if readOnly {
		q.Set("_query_only", "1")
	} else {
		// Persistent in the file; set by the writer before any reader opens.
		q.Set("_journal_mode", "WAL")
		// The WAL is checkpointed in the background (checkpointLoop), off
		// the writer's path; this only bounds it should that fall behind.
		q.Add("_pragma", fmt.Sprintf("wal_autocheckpoint(%d)", walSafetyPages))
	}
	return cfg.Path + "?" + q.Encode()
}

func (s *Store) prepare(ctx context.Context) error {
	stmts := []struct {
		db   *sql.DB
		dst  **sql.Stmt
		text string
	}{
		{s.writer, &s.wInsertRoom, `INSERT INTO rooms (` + roomCols + `) VALUES (` + placeholders(roomNCols) + `) ON CONFLICT (id) DO NOTHING`},
		{s.writer, &s.wUpdateRoom, `UPDATE rooms SET ` + roomSet + ` WHERE id = ? AND version = ?`},
		{s.writer, &s.wDeleteRoom, `DELETE FROM rooms WHERE id = ?`},
		{s.reader, &s.rGetRoom, `SELECT ` + roomCols + ` FROM rooms WHERE id = ?`},
		{s.writer, &s.wRoomExists, `SELECT EXISTS (SELECT 1 FROM rooms WHERE id = ?)`},
		{s.reader, &s.rListRooms, `SELECT ` + roomCols + ` FROM rooms WHERE id > ? ORDER BY id LIMIT ?`},
		{s.reader, &s.rExpired, qExpiredRooms},
		{s.reader, &s.rMarked, qMarkedRooms},
		{s.reader, &s.rCountRooms, `SELECT count(*) FROM rooms`},
		{s.reader, &s.rPing, `SELECT count(*) FROM sqlite_schema`},

		{s.writer, &s.wClaim, `INSERT INTO commands (id, type, status, plan, created_at, updated_at)
			VALUES (?, ?, '` + store.StatusPending + `', ?, ?, ?) ON CONFLICT (id) DO NOTHING`},
		// The first plan wins: a record with a plan, or done, keeps its own.
		{s.writer, &s.wSetPlan, `UPDATE commands SET
			plan       = CASE WHEN plan IS NULL AND status = '` + store.StatusPending + `' THEN ?1 ELSE plan END,
			updated_at = CASE WHEN plan IS NULL AND status = '` + store.StatusPending + `' THEN ?2 ELSE updated_at END
			WHERE id = ?3 RETURNING plan`},
		// The first completion wins: only a pending record is completed; it
		// returns just what the caller did not give, so the usual case reads
		// no result or outbox back.
		{s.writer, &s.wComplete, `UPDATE commands SET result = ?1, outbox = ?2, updated_at = ?3, status = ?5, rooms = ?6, cause = ?7
			WHERE id = ?4 AND status = '` + store.StatusPending + `' RETURNING type, plan, created_at`},
		{s.writer, &s.wPublished, `UPDATE commands SET published = 1 WHERE id = ? AND published = 0`},
		{s.reader, &s.rGetCommand, `SELECT ` + commandCols + ` FROM commands WHERE id = ?`},
		{s.writer, &s.wGetCommand, `SELECT ` + commandCols + ` FROM commands WHERE id = ?`},
		// The subquery reads only the index (rowid is in every entry), the
		// DELETE goes straight to the rows by rowid.
		{s.writer, &s.wPrune, qPruneCommands},
		{s.writer, &s.wHistoryAdd, `INSERT INTO ` + tableHistory + ` (room_id, at, command_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`},
		{s.writer, &s.wHistoryLast, qHistoryLast},
		{s.reader, &s.rHistory, qRoomHistory},

		{s.writer, &s.wPutArchived, `INSERT INTO archived_rooms (` + archivedCols + `) VALUES (` + placeholders(archivedNCols) + `)
			ON CONFLICT (id) DO UPDATE SET ` + archivedUpsert},
		{s.reader, &s.rGetArchived, `SELECT ` + archivedCols + ` FROM archived_rooms WHERE id = ?`},
	}
	for _, st := range stmts {
		p, err := st.db.PrepareContext(ctx, st.text)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", st.text, err)
		}
		*st.dst = p
	}
	return nil
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// Path returns the database file.
func (s *Store) Path() string { return s.path }

// Ping checks that the file can be read.
func (s *Store) Ping(ctx context.Context) error {
	if s.closed.Load() {
		return s.wrap("ping", errClosed)
	}
	var n int64
	return s.wrap("ping", s.rPing.QueryRowContext(ctx).Scan(&n))
}

// Close closes the store; later calls fail with store.ErrUnavailable.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	close(s.quit)
	s.life.Lock() // the writes in progress are done
	defer s.life.Unlock()
	<-s.checkpointDone
	return s.closeDBs()
}

func (s *Store) closeDBs() error {
	var errs []error
	// Readers first, so the writer's connection is the last one and
	// checkpoints the WAL into the file.
	for _, db := range []*sql.DB{s.reader, s.checkpointer, s.writer} {
		if db != nil {
			errs = append(errs, db.Close())
		}
	}
	return errors.Join(errs...)
}

var errClosed = errors.New("store is closed")

// check fails fast once the store is closed.
func (s *Store) check(op string) error {
	if s.closed.Load() {
		return s.wrap(op, errClosed)
	}
	return nil
}

// wrap maps err to the store's sentinels, keeping err in the chain.
func (s *Store) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrDuplicate) ||
		errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrUnavailable) {
		return err // already ours
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	var sentinel error
	var se *sqlite.Error
	switch {
	case errors.Is(err, errClosed), errors.Is(err, sql.ErrConnDone),
		err.Error() == "sql: database is closed":
		sentinel = store.ErrUnavailable
	case errors.As(err, &se):
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
			sentinel = store.ErrDuplicate
		}
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN,
			sqlite3.SQLITE_FULL, sqlite3.SQLITE_NOMEM, sqlite3.SQLITE_PROTOCOL, sqlite3.SQLITE_READONLY,
			sqlite3.SQLITE_NOLFS, sqlite3.SQLITE_PERM:
			sentinel = store.ErrUnavailable
		}
	}
	if sentinel == nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	return fmt.Errorf("sqlite: %s: %w: %w", op, sentinel, err)
}
