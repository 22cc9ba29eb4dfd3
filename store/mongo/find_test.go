package mongo_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/internal/testenv/ferret"
	"github.com/roomkeeper/roomkeeper/store"
	"github.com/roomkeeper/roomkeeper/store/mongo"
	"github.com/roomkeeper/roomkeeper/store/storetest"
)

// TestFindRoomsFinds checks the finds FindRooms sends for every sort and
// cursor: at most three, each sorted by (field, _id) in the query's
// direction, hinted to the sort's index and limited to what the page still
// lacks. On a real MongoDB (TEST_MONGO_URI) it explains each one too: an
// index scan of that index in order (no SORT stage) whose filters are
// checked on the index keys (no FETCH with a filter).
func TestFindRoomsFinds(t *testing.T) {
	onMongo := os.Getenv(ferret.EnvMongoURI) != ""
	var log commandLog
	s := openStore(t, ferret.MongoURI(t), mongo.WithMonitor(mongo.Config{}, log.monitor()))
	ctx := t.Context()
	for i := range 6 {
		r := storetest.NewRoom(fmt.Sprintf("Finds%d", i))
		if i%2 == 0 {
			r.AutoDeletionDate = nil
		}
		r.Status = []string{events.StatusOpen, events.StatusClosed}[i%2]
		require.NoError(t, s.InsertRoom(ctx, r))
	}
	indexes := map[string]string{
		store.SortCreationDate: mongo.IndexCreated, store.SortRoomName: mongo.IndexName,
		store.SortAutoDeletionDate: mongo.IndexDeletion,
	}
	fields := map[string]string{
		store.SortCreationDate: "creationDate", store.SortRoomName: "roomName",
		store.SortAutoDeletionDate: "autoDeletionDate",
	}
	for sort, index := range indexes {
		for _, desc := range []bool{false, true} {
			for _, cursor := range []string{"none", "dated", "undated"} {
				t.Run(fmt.Sprintf("%s-desc=%v-cursor=%s", sort, desc, cursor), func(t *testing.T) {
					q := store.RoomQuery{Sort: sort, Desc: desc, Limit: 10, Status: events.StatusClosed,
						Name: "room", NameMatch: store.MatchPartial, NameCaseInsensitive: true}
					switch cursor {
					case "dated":
						q.After = &store.RoomCursor{Int: 1, Str: "a", HasValue: true, RoomID: "Finds"}
					case "undated":
						q.After = &store.RoomCursor{Str: "a", RoomID: "Finds"}
					}
					before := log.len()
					_, err := s.FindRooms(ctx, q)
					require.NoError(t, err)
					finds := log.since(before, "find", mongo.CollRooms)
					require.NotEmpty(t, finds)
					require.LessOrEqual(t, len(finds), 3)
					dir := int32(1)
					if desc {
						dir = -1
					}
					for _, f := range finds {
						require.Equal(t, index, f.Lookup("hint").StringValue(), "hint of %s", f)
						sortDoc := f.Lookup("sort").Document()
						elems, err := sortDoc.Elements()
						require.NoError(t, err)
						require.Len(t, elems, 2)
						require.Equal(t, fields[sort], elems[0].Key())
						require.Equal(t, "_id", elems[1].Key())
						require.Equal(t, dir, elems[0].Value().Int32())
						require.Equal(t, dir, elems[1].Value().Int32())
						require.LessOrEqual(t, f.Lookup("limit").AsInt64(), int64(10))
						if onMongo {
							requireIndexWalk(t, s, f, index)
						}
					}
				})
			}
		}
	}
}

// requireIndexWalk explains find on rooms and requires its winning plan to
// walk index in order, checking the filters on the index keys.
func requireIndexWalk(t *testing.T, s *mongo.Store, find bson.Raw, index string) {
	t.Helper()
	cmd := bson.D{{Key: "find", Value: mongo.CollRooms}}
	for _, key := range []string{"filter", "sort", "hint", "limit"} {
		cmd = append(cmd, bson.E{Key: key, Value: find.Lookup(key)})
	}
	var out bson.Raw
	require.NoError(t, s.Database().RunCommand(t.Context(), bson.D{
		{Key: "explain", Value: cmd}, {Key: "verbosity", Value: "queryPlanner"},
	}).Decode(&out))
	plan := out.Lookup("queryPlanner", "winningPlan")
	stages := map[string]bson.Raw{}
	planStages(plan.Document(), stages)
	require.Contains(t, stages, "IXSCAN", "plan %s", plan)
	require.Equal(t, index, stages["IXSCAN"].Lookup("indexName").StringValue(), "plan %s", plan)
	require.NotContains(t, stages, "SORT", "the index gives the order: %s", plan)
	if fetch, ok := stages["FETCH"]; ok {
		_, err := fetch.LookupErr("filter")
		require.Error(t, err, "filters checked after the fetch: %s", plan)
	}
}

// planStages collects the stages of an explained plan by name.
func planStages(doc bson.Raw, out map[string]bson.Raw) {
	if stage, ok := doc.Lookup("stage").StringValueOK(); ok {
		out[stage] = doc
	}
	for _, key := range []string{"inputStage", "queryPlan"} {
		if v, err := doc.LookupErr(key); err == nil {
			if d, ok := v.DocumentOK(); ok {
				planStages(d, out)
			}
		}
	}
	if v, err := doc.LookupErr("inputStages"); err == nil {
		if arr, ok := v.ArrayOK(); ok {
			vals, _ := arr.Values()
			for _, v := range vals {
				if d, ok := v.DocumentOK(); ok {
					planStages(d, out)
				}
			}
		}
	}
}
