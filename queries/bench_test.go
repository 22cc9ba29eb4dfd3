package queries_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/store"
)

// BenchmarkQueryList times one rooms.api.list request (NATS request, SQLite
// FindRooms, projection, reply) over 10,000 rooms: the first page, a page
// deep in a listing (through its token), and filtered pages.
//
//	go test ./queries -run '^$' -bench QueryList -benchtime 300x
func BenchmarkQueryList(b *testing.B) {
	const n = 10_000
	qb := setupQueries(b, queryOpts{})
	ctx := ctxT(b, 10*time.Minute)
	base := time.Now().UnixMilli()
	for i := range n {
		exp := base + int64((i*7919)%n)*1000 + 3_600_000
		insertRoom(ctx, b, qb.Store, fmt.Sprintf("bench_%05d-%015d", i, i), func(r *store.Room) {
			r.RoomName = fmt.Sprintf("Room %05d", (i*104729)%n)
			r.CreationDate = base + int64(i)
			r.AutoDeletionDate = &exp
			if i%10 == 0 {
				r.Status = events.StatusClosed
			}
		})
	}
	// A token 5,000 rooms into the listing by name.
	deep := events.ListRequest{MaxItems: 100, SortField: "roomName", SortOrder: "asc"}
	for range 50 {
		page, err := qb.Client.ListRooms(ctx, deep)
		if err != nil {
			b.Fatal(err)
		}
		deep.NextPageToken = page.Pagination.NextPageToken
	}
	for name, req := range map[string]events.ListRequest{
		"first page of 10":               {},
		"first page of 100":              {MaxItems: 100},
		"page 51 of 100 by name":         deep,
		"by autoDeletionDate asc":        {MaxItems: 100, SortField: "autoDeletionDate", SortOrder: "asc"},
		"status closed":                  {MaxItems: 100, Status: events.StatusClosed},
		"name prefix, case-insensitive":  {MaxItems: 100, RoomName: "room 01", RoomNameMatchMode: "prefix", RoomNameCaseInsensitive: true},
		"name regex":                     {MaxItems: 100, RoomName: "7$", RoomNameMatchMode: "regex"},
		"fields roomId, extraFields all": {MaxItems: 100, Fields: "roomId", ExtraFields: "config,roles"},
	} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, err := qb.Client.ListRooms(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
