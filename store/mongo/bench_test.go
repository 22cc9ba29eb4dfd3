package mongo_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/internal/testenv/ferret"
	"github.com/roomkeeper/roomkeeper/store"
	"github.com/roomkeeper/roomkeeper/store/mongo"
	"github.com/roomkeeper/roomkeeper/store/storetest"
)

// BenchmarkCompleteCommand: the cost of one CompleteCommand (the claim
// before it is not timed): a create's completion (a room insert and its
// archive, with the result in the outbox), and one without writes, on a
// ledger of 0 or 1,000 finished records. It reports ms per completion and
// the commands the client sent to the server for it (round trips).
//
//	go test -run '^$' -bench CompleteCommand -benchtime 200x ./store/mongo
func BenchmarkCompleteCommand(b *testing.B) {
	uri := ferret.MongoURI(b)
	for _, tc := range []struct {
		writes bool
		ledger int
	}{{false, 0}, {true, 0}, {true, 1000}} {
		nw := 0
		if tc.writes {
			nw = 2
		}
		b.Run(fmt.Sprintf("writes=%d/ledger=%d", nw, tc.ledger), func(b *testing.B) {
			var log commandLog
			s := openStore(b, uri, mongo.WithMonitor(mongo.Config{}, log.monitor()))
			ctx := b.Context()
			result := json.RawMessage(`{"commandId":"x","type":"rooms.cmd.create","ok":true}`)
			for i := range tc.ledger {
				id := fmt.Sprintf("old-%d", i)
				_, err := s.ClaimCommand(ctx, &store.Command{ID: id, Type: "rooms.cmd.create"})
				require.NoError(b, err)
				_, err = s.CompleteCommand(ctx, id, store.Completion{Status: store.StatusDone, Result: result})
				require.NoError(b, err)
			}
			cmds := 0
			b.ResetTimer()
			for i := range b.N {
				b.StopTimer()
				id := fmt.Sprintf("c-%d", i)
				_, err := s.ClaimCommand(ctx, &store.Command{ID: id, Type: "rooms.cmd.create"})
				require.NoError(b, err)
				c := store.Completion{
					Status: store.StatusDone,
					Result: result,
					Outbox: []store.OutMsg{{Subject: "rooms.results." + id, MsgID: "result:" + id, Data: result}},
				}
				if tc.writes {
					r := storetest.NewRoom(fmt.Sprintf("Bench%06d-hhhhhhhhh", i))
					c.Writes = []store.Write{store.InsertRoom(r), store.PutArchived(&store.ArchivedRoom{RoomID: r.RoomID, RoomName: r.RoomName})}
				}
				before := log.len()
				b.StartTimer()
				_, err = s.CompleteCommand(ctx, id, c)
				b.StopTimer()
				require.NoError(b, err)
				cmds += log.len() - before
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/completion")
			b.ReportMetric(float64(cmds)/float64(b.N), "commands/completion")
		})
	}
}
