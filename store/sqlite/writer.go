package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"

	"github.com/roomkeeper/roomkeeper/store"
)

// maxBatch caps how many writes share one transaction.
const maxBatch = 128

// A binder binds a statement prepared on the writer to the write in
// progress (a transaction, or none for a write on its own).
type binder func(ctx context.Context, stmt *sql.Stmt) *sql.Stmt

// writeReq is one write waiting for its turn: fn runs its statement(s)
// through bind and may run again (see runBatch), so it only sets results,
// never accumulates them.
type writeReq struct {
	ctx context.Context
	fn  func(ctx context.Context, bind binder) error
	// wake is signalled when the write is done or its writer is to lead.
	wake chan struct{}
	// err and ran are set by the leader that runs the write, finished
	// then under Store.qmu; the caller reads them once finished.
	err      error
	ran      bool
	finished bool
}

// write runs fn on the write connection and returns once its effect is
// committed (or failed). Group commit, led by the callers themselves: the
// write at the head of the queue leads; it takes every write queued behind
// it (up to maxBatch) into one transaction, commits, wakes their callers and
// hands the lead to the next write in the queue. Writes that arrive while a
// batch commits wait for the next one: each is still its own statement with
// its own outcome, but one commit, and its WAL page writes, serves them all.
// No goroutine in between: a dedicated writer goroutine had to be
// scheduled for every batch, and on a busy machine waited for a CPU while
// every caller waited for it.
func (s *Store) write(ctx context.Context, op string, fn func(ctx context.Context, bind binder) error) error {
	s.life.RLock()
	defer s.life.RUnlock()
	if err := s.check(op); err != nil {
		return err
	}
	req := &writeReq{ctx: ctx, fn: fn, wake: make(chan struct{}, 1)}
	s.qmu.Lock()
	s.queue = append(s.queue, req)
	for !req.finished && s.queue[0] != req {
		s.qmu.Unlock()
		<-req.wake
		s.qmu.Lock()
	}
	if req.finished {
		s.qmu.Unlock()
		return s.wrap(op, req.err)
	}
	if len(s.queue) == 1 {
		// Alone: let the writers that are a moment away queue first.
		s.qmu.Unlock()
		runtime.Gosched()
		s.qmu.Lock()
	}
	// Lead: only the leader removes from the head and others only append,
	// so the first n queued are exactly this batch until it is done.
	n := min(len(s.queue), maxBatch)
	batch := append(s.batch[:0], s.queue[:n]...)
	s.qmu.Unlock()

	s.runLed(req, batch, n)
	return s.wrap(op, req.err)
}

// runLed runs the leader req's batch (the first n queued), then marks them
// finished, wakes their callers and hands the lead to the next write. A
// panic in a write fails the batch and still hands over before it goes on
// up, so one bad write cannot leave every later one waiting.
func (s *Store) runLed(req *writeReq, batch []*writeReq, n int) {
	defer func() {
		r := recover()
		if r != nil {
			for _, q := range batch {
				if !q.ran {
					q.err = fmt.Errorf("%w: a write panicked: %v", errWritePanic, r)
				}
			}
		}
		s.qmu.Lock()
		clear(s.queue[:n])
		s.queue = s.queue[n:]
		for _, q := range batch {
			q.finished = true
			if q != req {
				q.wake <- struct{}{}
			}
		}
		if len(s.queue) > 0 {
			s.queue[0].wake <- struct{}{}
		}
		clear(batch)
		s.batch = batch
		s.qmu.Unlock()
		if r != nil {
			panic(r)
		}
	}()
	s.runBatch(batch)
	s.batches.Add(1)
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
				req.err, req.ran = errs[i], true
			}
			return
		}
	}
	for _, req := range batch {
		req.err = s.runOne(req)
		req.ran = true
	}
}

// runOne runs req on its own, in a transaction of its own (a write may run
// several statements: a completion and its room writes).
func (s *Store) runOne(req *writeReq) error {
	if err := req.ctx.Err(); err != nil {
		return err
	}
	errs, _ := s.runTx([]*writeReq{req})
	return errs[0]
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
	defer func() {
		if r := recover(); r != nil {
			_ = tx.Rollback() // or the one write connection stays taken
			panic(r)
		}
	}()
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
