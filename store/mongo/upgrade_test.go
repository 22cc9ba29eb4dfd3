package mongo_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/internal/testenv/ferret"
	"github.com/roomkeeper/roomkeeper/store"
	"github.com/roomkeeper/roomkeeper/store/mongo"
	"github.com/roomkeeper/roomkeeper/store/storetest"
)

// oldDocument is room r as a raw document of the version before issue 15
// (no schemaVersion, none of the new fields), as that version wrote it.
func oldDocument(r *store.Room) bson.D {
	p := r.Preferences
	recording := bson.D{{Key: "enabled", Value: p.RecordingPreferences.Enabled}}
	if p.RecordingPreferences.AllowAccessTo != "" {
		recording = append(recording, bson.E{Key: "allowAccessTo", Value: p.RecordingPreferences.AllowAccessTo})
	}
	doc := bson.D{
		{Key: "_id", Value: r.RoomID},
		{Key: "roomName", Value: r.RoomName},
		{Key: "creationDate", Value: r.CreationDate},
	}
	if r.AutoDeletionDate != nil {
		doc = append(doc, bson.E{Key: "autoDeletionDate", Value: *r.AutoDeletionDate})
	}
	applied := bson.A{}
	for _, id := range r.Applied {
		applied = append(applied, id)
	}
	return append(doc,
		bson.E{Key: "markedForDeletion", Value: r.MarkedForDeletion},
		bson.E{Key: "preferences", Value: bson.D{
			{Key: "chatPreferences", Value: bson.D{{Key: "enabled", Value: p.ChatPreferences.Enabled}}},
			{Key: "recordingPreferences", Value: recording},
			{Key: "virtualBackgroundPreferences", Value: bson.D{{Key: "enabled", Value: p.VirtualBackgroundPreferences.Enabled}}},
		}},
		bson.E{Key: "moderatorRoomUrl", Value: r.ModeratorRoomURL},
		bson.E{Key: "publisherRoomUrl", Value: r.PublisherRoomURL},
		bson.E{Key: "moderatorSecret", Value: r.ModeratorSecret},
		bson.E{Key: "publisherSecret", Value: r.PublisherSecret},
		bson.E{Key: "meeting", Value: r.Meeting},
		bson.E{Key: "version", Value: r.Version},
		bson.E{Key: "applied", Value: applied},
	)
}

// TestUpgradeOldDocuments: room documents of the version before issue 15
// (raw BSON, without schemaVersion) read in the current shape from a store
// already open (on read), and a store opened afterwards rewrites them in
// it (the same rooms), so FindRooms filters them on their new status.
func TestUpgradeOldDocuments(t *testing.T) {
	ctx := t.Context()
	uri := ferret.MongoURI(t)
	cfg := mongo.Config{Database: ferret.DatabaseName(t)}
	first := openStore(t, uri, cfg)
	olds := storetest.OldRooms()
	for _, r := range olds {
		_, err := first.Database().Collection(mongo.CollRooms).InsertOne(ctx, oldDocument(r))
		require.NoError(t, err)
	}

	read := map[string]*store.Room{}
	for _, old := range olds {
		got, err := first.GetRoom(ctx, old.RoomID)
		require.NoError(t, err)
		storetest.RequireUpgraded(t, old, got)
		read[old.RoomID] = got
	}

	second := openStore(t, uri, cfg)
	for _, old := range olds {
		var raw bson.M
		require.NoError(t, second.Database().Collection(mongo.CollRooms).FindOne(ctx, bson.D{{Key: "_id", Value: old.RoomID}}).Decode(&raw))
		require.EqualValues(t, store.RoomSchemaVersion, raw["schemaVersion"], "stored upgraded: %v", raw)
		require.NotEmpty(t, raw["status"])
		for _, s := range []*mongo.Store{first, second} {
			got, err := s.GetRoom(ctx, old.RoomID)
			require.NoError(t, err)
			storetest.RequireRoomEqual(t, read[old.RoomID], got, "the rewritten room is the one read before")
		}
	}
	found, err := first.FindRooms(ctx, store.RoomQuery{Status: events.StatusActiveMeeting, Sort: store.SortRoomName, Limit: 10})
	require.NoError(t, err)
	require.Len(t, found, 2)
	require.Equal(t, []string{olds[0].RoomID, olds[2].RoomID}, []string{found[0].RoomID, found[1].RoomID})
}
