package mongo_test

import (
	"context"
	"errors"
	"log"
	"time"

	"github.com/roomkeeper/roomkeeper/store"
	"github.com/roomkeeper/roomkeeper/store/mongo"
)

// Open the production store, as `roomkeeper worker` does with MONGO_URI and
// MONGO_DB, and tell a transient failure from a permanent one.
func ExampleOpen() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := mongo.Open(ctx, mongo.Config{
		URI:      "mongodb://mongo-0,mongo-1,mongo-2/?replicaSet=rs0",
		Database: "roomkeeper",
	})
	if errors.Is(err, store.ErrUnavailable) {
		log.Print("database unreachable, retrying later")
		return
	}
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = s.Close() }()

	room, err := s.GetRoom(ctx, "MyRoom-3kq9x2m4p7a1b8c")
	switch {
	case errors.Is(err, store.ErrNotFound):
		log.Print("no such room")
	case errors.Is(err, store.ErrUnavailable):
		log.Print("database unreachable: nak and retry")
	case err != nil:
		log.Fatal(err)
	default:
		log.Print(room.RoomName)
	}
}
