package mongo

import (
	"context"
	"fmt"
	"sync"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/roomkeeper/roomkeeper/store"
)

// CollRecordings holds the recording metadata (store.RecordingStore), one
// document per egress (_id: the egress ID).
const CollRecordings = "recordings"

// IndexRecordingsRoom serves RoomRecordings.
const IndexRecordingsRoom = "recordings_room"

var recordingIndexes = []index{
	{IndexRecordingsRoom, bson.D{{Key: "roomId", Value: 1}, {Key: "_id", Value: 1}}},
}

// recordingsReady creates the recordings indexes once per store, on first
// use. TODO(integration): move into Store.init with the other indexes.
var recordingsReady sync.Map // *Store → *sync.Once-guarded error

type onceErr struct {
	once sync.Once
	err  error
}

func (s *Store) recordings(ctx context.Context) (*mongo.Collection, error) {
	v, _ := recordingsReady.LoadOrStore(s, &onceErr{})
	o := v.(*onceErr)
	coll := s.db.Collection(CollRecordings)
	o.once.Do(func() { o.err = createMissingIndexes(ctx, coll, recordingIndexes) })
	if o.err != nil {
		recordingsReady.Delete(s) // try again next time
		return nil, o.err
	}
	return coll, nil
}

// olderThan matches the stored state of an egress that rec is newer than
// (store.Recording.Newer).
func olderThan(rec *store.Recording) bson.D {
	return bson.D{
		{Key: "_id", Value: rec.EgressID},
		{Key: "$or", Value: bson.A{
			bson.D{{Key: "updatedAt", Value: bson.D{{Key: "$lt", Value: rec.UpdatedAt}}}},
			bson.D{{Key: "updatedAt", Value: rec.UpdatedAt}, {Key: "rank", Value: bson.D{{Key: "$lt", Value: rec.Rank}}}},
		}},
	}
}

// PutRecording implements store.RecordingStore: a replace of an older
// state, upserting; an upsert that meets a stored state (duplicate key)
// is older or newer than it, which a plain replace then tells.
func (s *Store) PutRecording(ctx context.Context, rec *store.Recording) (bool, error) {
	op := fmt.Sprintf("put recording %q", rec.EgressID)
	coll, err := s.recordings(ctx)
	if err != nil {
		return false, err
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	rec.Rank = store.RecordingRank(rec.Status)
	defer s.lock(CollRecordings, rec.EgressID)()
	res, err := coll.ReplaceOne(ctx, olderThan(rec), rec, options.Replace().SetUpsert(true))
	if mongo.IsDuplicateKeyError(err) {
		res, err = coll.ReplaceOne(ctx, olderThan(rec), rec)
	}
	if err != nil {
		return false, wrapErr(op, err)
	}
	return res.MatchedCount > 0 || res.UpsertedCount > 0, nil
}

// GetRecording implements store.RecordingStore.
func (s *Store) GetRecording(ctx context.Context, egressID string) (*store.Recording, error) {
	coll, err := s.recordings(ctx)
	if err != nil {
		return nil, err
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	var r store.Recording
	if err := coll.FindOne(ctx, byID(egressID)).Decode(&r); err != nil {
		return nil, wrapErr(fmt.Sprintf("get recording %q", egressID), err)
	}
	return &r, nil
}

// RoomRecordings implements store.RecordingStore.
func (s *Store) RoomRecordings(ctx context.Context, roomID string, limit int) ([]store.Recording, error) {
	op := fmt.Sprintf("room recordings %q", roomID)
	coll, err := s.recordings(ctx)
	if err != nil {
		return nil, err
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	opts := options.Find().SetSort(bson.D{{Key: "roomId", Value: 1}, {Key: "_id", Value: 1}})
	if limit > 0 {
		opts.SetLimit(int64(limit))
	}
	cur, err := coll.Find(ctx, bson.D{{Key: "roomId", Value: roomID}}, opts)
	if err != nil {
		return nil, wrapErr(op, err)
	}
	var out []store.Recording
	if err := cur.All(ctx, &out); err != nil {
		return nil, wrapErr(op, err)
	}
	return out, nil
}

// DeleteRecordings implements store.RecordingStore.
func (s *Store) DeleteRecordings(ctx context.Context, egressIDs []string) error {
	if len(egressIDs) == 0 {
		return nil
	}
	coll, err := s.recordings(ctx)
	if err != nil {
		return err
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	_, err = coll.DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: egressIDs}}}})
	return wrapErr("delete recordings", err)
}
