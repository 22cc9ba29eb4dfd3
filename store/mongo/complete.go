package mongo

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/roomkeeper/roomkeeper/store"
)

// StatusCompleting is the status of a ledger record whose completion the
// guarded sequence has claimed but not finished (see the package doc).
// Callers of the store never see it: a reader finishes such a record, or
// reports it pending while its completer is at work.
const StatusCompleting = "completing"

// Steps of a guarded completion, as passed to Config.hook.
const (
	stepClaimed = "claimed" // the record holds the completion; no write applied
	stepWrite   = "write"   // after each write
	stepApplied = "applied" // every write applied; the record not finished
)

// storedWrite is a store.Write as the completing record holds it.
type storedWrite struct {
	InsertRoom  *store.Room         `bson:"insertRoom,omitempty"`
	DeleteRoom  string              `bson:"deleteRoom,omitempty"`
	PutArchived *store.ArchivedRoom `bson:"putArchived,omitempty"`
}

// completion is a completion in flight, held by a completing record in its
// field "completing".
type completion struct {
	// Token names the caller that applies the writes now; Until is when
	// its lease ends (another caller may then take it over).
	Token string    `bson:"token"`
	Until time.Time `bson:"until"`

	Status string          `bson:"status"`
	Result json.RawMessage `bson:"result,omitempty"`
	Outbox []store.OutMsg  `bson:"outbox,omitempty"`
	Writes []storedWrite   `bson:"writes,omitempty"`
	// Rooms are the IDs of the rooms (and archives) the writes touch.
	Rooms []string `bson:"rooms,omitempty"`
	// History and Cause are store.Completion's Rooms and Cause, set on the
	// finished record (its rooms and cause).
	History []string `bson:"history,omitempty"`
	Cause   string   `bson:"cause,omitempty"`
}

// record is a ledger document as stored: the command, and the completion
// in flight when its status is StatusCompleting.
type record struct {
	store.Command `bson:",inline"`
	Completing    *completion `bson:"completing,omitempty"`
}

func newCompletion(c store.Completion) *completion {
	pc := &completion{Status: c.Status, Result: c.Result, Outbox: c.Outbox, History: c.Rooms, Cause: c.Cause}
	for _, w := range c.Writes {
		id := w.RoomID()
		switch w.Op() {
		case store.WriteInsertRoom:
			pc.Writes = append(pc.Writes, storedWrite{InsertRoom: current(w.Room())})
		case store.WriteDeleteRoom:
			pc.Writes = append(pc.Writes, storedWrite{DeleteRoom: id})
		case store.WritePutArchived:
			pc.Writes = append(pc.Writes, storedWrite{PutArchived: w.Archived()})
		default:
			continue
		}
		if !slices.Contains(pc.Rooms, id) {
			pc.Rooms = append(pc.Rooms, id)
		}
	}
	return pc
}

// newToken returns a random token naming one completer.
func newToken() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

var returnAfter = options.FindOneAndUpdate().SetReturnDocument(options.After)

// step calls the test hook, if any.
func (s *Store) step(name string) error {
	if s.cfg.hook == nil {
		return nil
	}
	return s.cfg.hook(name)
}

// CompleteCommand implements store.Store. Where the deployment has
// multi-document transactions (and Config.NoTransactions is off), one
// transaction finishes the pending record and applies the writes; elsewhere
// the guarded sequence does (see the package doc). Either way the writes
// are applied if and only if this call's completion finishes the record.
func (s *Store) CompleteCommand(ctx context.Context, id string, c store.Completion) (*store.Command, error) {
	if c.Status != store.StatusDone && c.Status != store.StatusDead {
		return nil, fmt.Errorf("mongo: complete command %q: %w: status %q", id, store.ErrInvalid, c.Status)
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	pc := newCompletion(c)
	// A guarded completion in flight on one of these rooms is finished
	// first, so that its writes can never land after ours.
	if err := s.settleRooms(ctx, id, pc.Rooms); err != nil {
		return nil, err
	}
	if s.txn {
		rec, inFlight, err := s.completeInTransaction(ctx, id, pc)
		if err != nil || !inFlight {
			return rec, err
		}
		// A guarded completion (a process with NoTransactions) holds the
		// record: wait for it, or finish it.
	}
	return s.completeGuarded(ctx, id, pc)
}

// completeInTransaction finishes pending record id with pc and applies its
// writes in one transaction (retried by the driver on transient errors).
// When the record is not pending, nothing is written; inFlight reports a
// record held by a guarded completion.
func (s *Store) completeInTransaction(ctx context.Context, id string, pc *completion) (_ *store.Command, inFlight bool, _ error) {
	op := fmt.Sprintf("complete command %q in a transaction", id)
	sess, err := s.client.StartSession()
	if err != nil {
		return nil, false, wrapErr(op, err)
	}
	defer sess.EndSession(context.WithoutCancel(ctx))
	out, err := sess.WithTransaction(ctx, func(ctx context.Context) (any, error) {
		inFlight = false
		filter := bson.D{{Key: "_id", Value: id}, {Key: "status", Value: store.StatusPending}}
		var rec record
		err := s.commands.FindOneAndUpdate(ctx, filter, finishUpdate(pc, now()), returnAfter).Decode(&rec)
		if errors.Is(err, mongo.ErrNoDocuments) {
			// Finished before (its writes are not ours to apply), held by
			// a guarded completion, or absent.
			if err := s.commands.FindOne(ctx, byID(id)).Decode(&rec); err != nil {
				return nil, err
			}
			inFlight = rec.Status == StatusCompleting
			return &rec.Command, nil
		}
		if err != nil {
			return nil, err
		}
		for _, w := range pc.Writes {
			if err := s.applyWrite(ctx, w, true); err != nil {
				return nil, err
			}
		}
		return &rec.Command, nil
	})
	if err != nil {
		return nil, false, wrapErr(op, err)
	}
	return out.(*store.Command), inFlight, nil
}

// finishUpdate is the update that finishes a record with pc at t.
func finishUpdate(pc *completion, t time.Time) bson.D {
	set := bson.D{
		{Key: "status", Value: pc.Status},
		{Key: "updatedAt", Value: t},
	}
	if len(pc.Result) > 0 {
		set = append(set, bson.E{Key: "result", Value: pc.Result})
	}
	if len(pc.Outbox) > 0 {
		set = append(set, bson.E{Key: "outbox", Value: pc.Outbox})
	}
	if len(pc.History) > 0 {
		set = append(set, bson.E{Key: "rooms", Value: pc.History})
	}
	if pc.Cause != "" {
		set = append(set, bson.E{Key: "cause", Value: pc.Cause})
	}
	return bson.D{
		{Key: "$set", Value: set},
		{Key: "$unset", Value: bson.D{{Key: "completing", Value: ""}}},
	}
}

// completeGuarded is the guarded sequence: claim the pending record with
// the completion (pending → completing), apply the writes, finish the
// record (completing → done or dead). When another caller holds the
// record, it waits for it to finish, or takes it over once its lease has
// ended and finishes it with the stored writes (never with pc's).
func (s *Store) completeGuarded(ctx context.Context, id string, pc *completion) (*store.Command, error) {
	op := fmt.Sprintf("complete command %q", id)
	wait := backoff{}
	for {
		rec, err := s.claim(ctx, id, pc)
		if err != nil {
			return nil, err
		}
		if rec != nil {
			return s.finish(ctx, rec)
		}
		// Not pending: finished, held by another completion, or absent.
		rec, err = s.getRecord(ctx, id)
		if err != nil {
			return nil, err
		}
		if rec.Finished() {
			return &rec.Command, nil
		}
		if rec.Status == StatusCompleting {
			taken, err := s.takeOver(ctx, rec)
			if err != nil {
				return nil, err
			}
			if taken != nil {
				return s.finish(ctx, taken)
			}
		}
		// In flight elsewhere (or pending again, after a race): look again.
		if err := wait.sleep(ctx); err != nil {
			return nil, fmt.Errorf("mongo: %s: %w: another completion of it is in flight", op, store.ErrUnavailable)
		}
	}
}

// claim moves pending record id to completing with pc, under a fresh token
// and lease, and returns the record; nil when the record is not pending.
func (s *Store) claim(ctx context.Context, id string, pc *completion) (*record, error) {
	pc.Token = newToken()
	pc.Until = now().Add(s.cfg.CompletionLease)
	filter := bson.D{{Key: "_id", Value: id}, {Key: "status", Value: store.StatusPending}}
	update := bson.D{{Key: "$set", Value: bson.D{
		{Key: "status", Value: StatusCompleting},
		{Key: "completing", Value: pc},
		{Key: "updatedAt", Value: now()},
	}}}
	defer s.lock(CollCommands, id)()
	var rec record
	err := s.commands.FindOneAndUpdate(ctx, filter, update, returnAfter).Decode(&rec)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	if err != nil {
		return nil, wrapErr(fmt.Sprintf("claim completion of command %q", id), err)
	}
	return &rec, nil
}

// takeOver gives completing record rec a new token and lease if its lease
// has ended, and returns it; nil while the lease runs, or when another
// caller changed the record first.
func (s *Store) takeOver(ctx context.Context, rec *record) (*record, error) {
	pc := rec.Completing
	if pc == nil || now().Before(pc.Until) {
		return nil, nil
	}
	t := now()
	filter := bson.D{
		{Key: "_id", Value: rec.ID},
		{Key: "status", Value: StatusCompleting},
		{Key: "completing.token", Value: pc.Token},
	}
	update := bson.D{{Key: "$set", Value: bson.D{
		{Key: "completing.token", Value: newToken()},
		{Key: "completing.until", Value: t.Add(s.cfg.CompletionLease)},
	}}}
	defer s.lock(CollCommands, rec.ID)()
	var taken record
	err := s.commands.FindOneAndUpdate(ctx, filter, update, returnAfter).Decode(&taken)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	if err != nil {
		return nil, wrapErr(fmt.Sprintf("take over completion of command %q", rec.ID), err)
	}
	return &taken, nil
}

// finish applies the writes of completing record rec, whose token this
// caller holds, and finishes the record; it returns the finished record.
// The caller's context ends before the lease does (CompletionLease exceeds
// OpTimeout), so no write of this caller lands after another one took the
// record over.
func (s *Store) finish(ctx context.Context, rec *record) (*store.Command, error) {
	pc := rec.Completing
	op := fmt.Sprintf("complete command %q", rec.ID)
	if err := s.step(stepClaimed); err != nil {
		return nil, fmt.Errorf("mongo: %s: %w", op, err)
	}
	for _, w := range pc.Writes {
		if err := s.applyWrite(ctx, w, false); err != nil {
			return nil, fmt.Errorf("mongo: %s: %w", op, err)
		}
		if err := s.step(stepWrite); err != nil {
			return nil, fmt.Errorf("mongo: %s: %w", op, err)
		}
	}
	if err := s.step(stepApplied); err != nil {
		return nil, fmt.Errorf("mongo: %s: %w", op, err)
	}
	filter := bson.D{
		{Key: "_id", Value: rec.ID},
		{Key: "status", Value: StatusCompleting},
		{Key: "completing.token", Value: pc.Token},
	}
	t := now()
	unlock := s.lock(CollCommands, rec.ID)
	res, err := s.commands.UpdateOne(ctx, filter, finishUpdate(pc, t))
	unlock()
	if err != nil {
		return nil, wrapErr(op, err)
	}
	if res.MatchedCount == 1 {
		done := rec.Command
		done.Status, done.Result, done.Outbox, done.UpdatedAt = pc.Status, pc.Result, pc.Outbox, t
		done.Rooms, done.Cause = pc.History, pc.Cause
		return &done, nil
	}
	// Taken over (this caller outlived its lease): the record is finished,
	// or about to be, with the same completion.
	cur, err := s.getRecord(ctx, rec.ID)
	if err != nil {
		return nil, err
	}
	if !cur.Finished() {
		return nil, fmt.Errorf("mongo: %s: %w: taken over by another caller", op, store.ErrUnavailable)
	}
	return &cur.Command, nil
}

// settleRooms waits until no guarded completion other than command id's is
// in flight on rooms: it finishes those whose lease has ended (with their
// stored writes) and waits for the others. Then no write of an earlier
// completion can land after the writes of this one.
func (s *Store) settleRooms(ctx context.Context, id string, rooms []string) error {
	if len(rooms) == 0 {
		return nil
	}
	op := fmt.Sprintf("complete command %q", id)
	filter := bson.D{
		{Key: "status", Value: StatusCompleting},
		{Key: "completing.rooms", Value: bson.D{{Key: "$in", Value: rooms}}},
		{Key: "_id", Value: bson.D{{Key: "$ne", Value: id}}},
	}
	wait := backoff{}
	for {
		// Few records are ever completing: the status prefix of
		// commands_prune finds them.
		cur, err := s.commands.Find(ctx, filter, options.Find().SetHint(IndexPrune))
		if err != nil {
			return wrapErr(op+": find completions in flight", err)
		}
		var recs []record
		if err := cur.All(ctx, &recs); err != nil {
			return wrapErr(op+": find completions in flight", err)
		}
		busy := false
		for i := range recs {
			taken, err := s.takeOver(ctx, &recs[i])
			if err != nil {
				return err
			}
			if taken == nil {
				busy = true
				continue
			}
			if _, err := s.finish(ctx, taken); err != nil {
				return err
			}
		}
		if !busy {
			return nil
		}
		if err := wait.sleep(ctx); err != nil {
			return fmt.Errorf("mongo: %s: %w: a completion on the same rooms is in flight", op, store.ErrUnavailable)
		}
	}
}

// resolve is what a reader reports for rec: a completing record is
// finished (taken over and rolled forward) once its lease has ended, and
// reported pending while its completer is at work.
func (s *Store) resolve(ctx context.Context, rec *record) (*store.Command, error) {
	if rec.Status != StatusCompleting {
		return &rec.Command, nil
	}
	taken, err := s.takeOver(ctx, rec)
	if err != nil {
		return nil, err
	}
	if taken != nil {
		return s.finish(ctx, taken)
	}
	if rec.Completing != nil && !now().Before(rec.Completing.Until) {
		// The lease had ended but another caller changed the record
		// first: it may be finished now.
		cur, err := s.getRecord(ctx, rec.ID)
		if err != nil {
			return nil, err
		}
		if cur.Status != StatusCompleting {
			return &cur.Command, nil
		}
	}
	c := rec.Command
	c.Status = store.StatusPending
	return &c, nil
}

// applyWrite applies one write idempotently: an insert is an upsert that
// sets the room only when it is absent; a delete of a missing room and a
// put of an archive are no-ops when repeated. Outside a transaction a
// duplicate key (two upserts at once on FerretDB) is the insert done.
func (s *Store) applyWrite(ctx context.Context, w storedWrite, inTxn bool) error {
	upsert := options.UpdateOne().SetUpsert(true)
	switch {
	case w.InsertRoom != nil:
		fields, err := withoutID(current(w.InsertRoom))
		if err != nil {
			return fmt.Errorf("insert room %q: %w", w.InsertRoom.RoomID, err)
		}
		_, err = s.rooms.UpdateOne(ctx, byID(w.InsertRoom.RoomID), bson.D{{Key: "$setOnInsert", Value: fields}}, upsert)
		if !inTxn && mongo.IsDuplicateKeyError(err) {
			err = nil
		}
		return wrapErr(fmt.Sprintf("insert room %q", w.InsertRoom.RoomID), err)
	case w.DeleteRoom != "":
		_, err := s.rooms.DeleteOne(ctx, byID(w.DeleteRoom))
		return wrapErr(fmt.Sprintf("delete room %q", w.DeleteRoom), err)
	case w.PutArchived != nil:
		_, err := s.archived.ReplaceOne(ctx, byID(w.PutArchived.RoomID), w.PutArchived, options.Replace().SetUpsert(true))
		return wrapErr(fmt.Sprintf("put archived room %q", w.PutArchived.RoomID), err)
	}
	return nil
}

// withoutID is the document of v less its _id (for $setOnInsert).
func withoutID(v any) (bson.D, error) {
	var buf bytes.Buffer
	enc := bson.NewEncoder(bson.NewDocumentWriter(&buf))
	enc.UseJSONStructTags() // as the client does (Open)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	elems, err := bson.Raw(buf.Bytes()).Elements()
	if err != nil {
		return nil, err
	}
	d := make(bson.D, 0, len(elems))
	for _, e := range elems {
		if e.Key() == "_id" {
			continue
		}
		d = append(d, bson.E{Key: e.Key(), Value: e.Value()})
	}
	return d, nil
}

// backoff spaces the looks of a caller waiting for another completion:
// 5 ms, doubling up to 200 ms.
type backoff struct{ d time.Duration }

// sleep waits the next interval; ctx's error if ctx ends first.
func (b *backoff) sleep(ctx context.Context) error {
	switch {
	case b.d == 0:
		b.d = 5 * time.Millisecond
	case b.d < 200*time.Millisecond:
		b.d *= 2
	}
	t := time.NewTimer(b.d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
