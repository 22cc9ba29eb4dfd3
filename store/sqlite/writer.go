package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"runtime"

	"github.com/roomkeeper/roomkeeper/store"
)

// maxBatch caps how many writes share one transaction.
const maxBatch = 128

// A binder binds a statement prepared on the writer to the write in
// progress (a transaction, or none for a write on its own).
type binder func(ctx context.Context, stmt *sql.Stmt) *sql.Stmt

// writeReq is one write waiting for the writer: fn runs its statement(s)
// through bind and may run again (see runBatch), so it only sets results,
// never accumulates them.
type writeReq struct {
	ctx  context.Context
	fn   func(ctx context.Context, bind binder) error
	done chan error
}

// write runs fn on the write connection and returns once its effect is
// committed (or failed). Writes that arrive while another batch commits are
// grouped into the next transaction (group commit): each is still its own
// statement with its own outcome, but one commit, and its WAL page writes,
// serves them all.
func (s *Store) write(ctx context.Context, op string, fn func(ctx context.Context, bind binder) error) error {
	if err := s.check(op); err != nil {
		return err
	}
	req := &writeReq{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case s.writes <- req:
	case <-s.quit:
		return s.wrap(op, errClosed)
	case <-ctx.Done():
		return s.wrap(op, ctx.Err())
	}
	// Once taken, a write always gets an answer: it may already be committed.
	return s.wrap(op, <-req.done)
}

// writeLoop takes the writes in turn and runs them in batches.
func (s *Store) writeLoop() {
	defer close(s.loopDone)
	batch := make([]*writeReq, 0, maxBatch)
	for {
		select {
		case req := <-s.writes:
			batch = append(batch[:0], req)
		case <-s.quit:
			return
		}
		// Take what else is waiting; once, when nothing is, let the writers
		// that are about to ask run first, so that a lone write does not
		// commit on its own while others are a moment away.
		yielded := false
	more:
		for len(batch) < maxBatch {
			select {
			case req := <-s.writes:
				batch = append(batch, req)
			default:
				if yielded {
					break more
				}
				yielded = true
				runtime.Gosched()
			}
		}
		s.runBatch(batch)
		clear(batch)
	}
}

// isOutcome reports whether err is an ordinary outcome of a write (which
// leaves the transaction intact) rather than a failure of the database.
func isOutcome(err error) bool {
	return err == nil || errors.Is(err, store.ErrDuplicate) || errors.Is(err, store.ErrNotFound) ||
		errors.Is(err, store.ErrConflict) || errors.Is(err, context.Canceled) ||
		errors.Is(err, context.DeadlineExceeded)
}

// runBatch runs batch in one transaction. When a statement fails (not an
// ordinary outcome), or the commit does, the transaction is rolled back and
// each write is run again in a transaction of its own, so that one bad write
// cannot fail the others.
func (s *Store) runBatch(batch []*writeReq) {
	if len(batch) > 1 {
		if errs, ok := s.runTx(batch); ok {
			for i, req := range batch {
				req.done <- errs[i]
			}
			return
		}
	}
	for _, req := range batch {
		req.done <- s.runOne(req)
	}
}

// runOne runs req on its own, without an explicit transaction: each of its
// statements commits by itself (a write runs at most one statement that
// writes).
func (s *Store) runOne(req *writeReq) error {
	if err := req.ctx.Err(); err != nil {
		return err
	}
	return req.fn(context.WithoutCancel(req.ctx), func(_ context.Context, stmt *sql.Stmt) *sql.Stmt { return stmt })
}

// runTx runs reqs in one BEGIN IMMEDIATE transaction and reports each one's
// outcome, and whether every one had an ordinary outcome and the commit
// succeeded. Statements run with contexts that cannot be canceled: an
// interrupted write would roll back the whole transaction, the other writes
// included. A write whose context is done before it starts is skipped.
func (s *Store) runTx(reqs []*writeReq) ([]error, bool) {
	errs := make([]error, len(reqs))
	fail := func(err error) ([]error, bool) {
		for i := range errs {
			errs[i] = err
		}
		return errs, false
	}
	tx, err := s.writer.BeginTx(context.Background(), nil)
	if err != nil {
		return fail(err)
	}
	for i, req := range reqs {
		if err := req.ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		errs[i] = req.fn(context.WithoutCancel(req.ctx), tx.StmtContext)
		if !isOutcome(errs[i]) {
			_ = tx.Rollback()
			return errs, false
		}
	}
	if err := tx.Commit(); err != nil {
		_ = tx.Rollback()
		return fail(err)
	}
	return errs, true
}
