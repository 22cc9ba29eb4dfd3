package natsapi_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/sirupsen/logrus"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/handler"
	"github.com/roomkeeper/roomkeeper/internal/embedded"
	"github.com/roomkeeper/roomkeeper/natsapi"
	"github.com/roomkeeper/roomkeeper/queries"
	"github.com/roomkeeper/roomkeeper/rooms"
	"github.com/roomkeeper/roomkeeper/store/sqlite"
	"github.com/roomkeeper/roomkeeper/workers"
)

// roomkeeper starts what `roomkeeper serve` runs (an embedded NATS server
// with the streams, a SQLite store, a worker, the query service) and
// returns a connection to it and a function that stops it all.
func roomkeeper() (*nats.Conn, func()) {
	dir, err := os.MkdirTemp("", "roomkeeper-example-")
	if err != nil {
		log.Fatal(err)
	}
	ns, err := embedded.StartNATS(embedded.NATSConfig{Addr: "127.0.0.1:0", StoreDir: filepath.Join(dir, "nats")})
	if err != nil {
		log.Fatal(err)
	}
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		log.Fatal(err)
	}
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithCancel(context.Background())
	if err := natsapi.Bootstrap(ctx, js, natsapi.DefaultTopology()); err != nil {
		log.Fatal(err)
	}
	st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(dir, "roomkeeper.db")})
	if err != nil {
		log.Fatal(err)
	}
	quiet := logrus.New()
	quiet.SetOutput(io.Discard)
	reg := handler.NewRegistry()
	domain := &rooms.Rooms{Store: st, BaseURL: "https://meet.example.com", MinAutoDeletionDelay: time.Hour}
	if err := domain.Register(reg); err != nil {
		log.Fatal(err)
	}
	w, err := workers.New(workers.Config{}, js, st, reg, quiet, nil)
	if err != nil {
		log.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = w.Run(ctx); close(done) }()
	q, err := queries.New(queries.Config{Store: st, Log: quiet})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := q.Start(nc); err != nil {
		log.Fatal(err)
	}
	return nc, func() {
		_ = q.Close()
		cancel()
		<-done
		nc.Close()
		_ = st.Close()
		ns.Shutdown()
		ns.WaitForShutdown()
		_ = os.RemoveAll(dir)
	}
}

// Read a room, whole or a few of its properties.
func ExampleClient_GetRoom() {
	nc, stop := roomkeeper()
	defer stop()
	client, _ := natsapi.NewClient(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	name := "Weekly sync"
	created, err := client.CreateRoom(ctx, "example-get-1", events.CreateRoom{RoomName: &name})
	if err != nil {
		log.Fatal(err)
	}

	room, err := client.GetRoom(ctx, created.RoomID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(room.RoomName, room.Owner, room.Status)

	only, _ := client.GetRoom(ctx, created.RoomID, "roomName")
	fmt.Printf("%q %q\n", only.RoomName, only.Status)

	withConfig, _ := client.GetRoomWith(ctx, events.GetRequest{RoomID: created.RoomID, Fields: "roomId", ExtraFields: "config"})
	fmt.Println(withConfig.Config.Chat.Enabled, withConfig.ExtraFields)

	_, err = client.GetRoom(ctx, "NoSuchRoom-000000000000000")
	if e, ok := events.AsError(err); ok {
		fmt.Println(e.Code)
	}
	// Output:
	// Weekly sync admin open
	// "Weekly sync" ""
	// true [config roles]
	// not_found
}

// Read every room, a page at a time.
func ExampleClient_ListRooms() {
	nc, stop := roomkeeper()
	defer stop()
	client, _ := natsapi.NewClient(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	for i := range 5 {
		name := fmt.Sprintf("Room %d", i)
		if _, err := client.CreateRoom(ctx, fmt.Sprintf("example-list-%d", i), events.CreateRoom{RoomName: &name}); err != nil {
			log.Fatal(err)
		}
	}

	req := events.ListRequest{MaxItems: 2, Fields: "roomName", SortField: "roomName", SortOrder: events.SortAsc}
	for {
		page, err := client.ListRooms(ctx, req)
		if err != nil {
			log.Fatal(err)
		}
		for _, r := range page.Rooms {
			fmt.Print(r.RoomName, "; ")
		}
		fmt.Println("truncated:", page.Pagination.IsTruncated)
		if !page.Pagination.IsTruncated {
			break
		}
		req.NextPageToken = page.Pagination.NextPageToken
	}
	// Output:
	// Room 0; Room 1; truncated: true
	// Room 2; Room 3; truncated: true
	// Room 4; truncated: false
}

// Read a room's history: what happened to it, oldest first, a page at a
// time.
func ExampleClient_History() {
	nc, stop := roomkeeper()
	defer stop()
	client, _ := natsapi.NewClient(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	name := "Retro"
	room, err := client.CreateRoom(ctx, "example-history-create", events.CreateRoom{RoomName: &name})
	if err != nil {
		log.Fatal(err)
	}
	off := false
	if _, err := client.Do(ctx, "example-history-update", events.UpdateConfig{RoomID: room.RoomID, Config: events.ConfigOptions{Chat: &events.EnabledOptions{Enabled: &off}}}); err != nil {
		log.Fatal(err)
	}
	if _, err := client.Do(ctx, "example-history-delete", events.DeleteRooms{RoomIDs: []string{room.RoomID}}); err != nil {
		log.Fatal(err)
	}

	req := events.HistoryRequest{RoomID: room.RoomID, MaxItems: 2}
	for {
		page, err := client.History(ctx, req)
		if err != nil {
			log.Fatal(err)
		}
		for _, it := range page.Items {
			fmt.Println(it.CommandID, it.Subject, it.Status, it.Events[0].Type)
		}
		if !page.Pagination.IsTruncated {
			break
		}
		req.NextPageToken = page.Pagination.NextPageToken
	}
	// Output:
	// example-history-create rooms.cmd.create 201 created
	// example-history-update rooms.cmd.update_config 200 config_updated
	// example-history-delete rooms.cmd.delete 200 deleted
}
