package livekit_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/livekit/protocol/auth"

	"github.com/roomkeeper/roomkeeper/livekit"
)

// Without a URL the adapter is detached: no meeting is ever active, and
// what needs LiveKit fails with ErrUnavailable.
func ExampleNew_detached() {
	c, err := livekit.New(livekit.Config{})
	if err != nil {
		panic(err)
	}
	active, err := c.HasActiveMeeting(context.Background(), "MyRoom-3kq9x2m4p7a1b8c")
	fmt.Println(c.Detached(), active, err)

	_, err = c.ParticipantToken("MyRoom-3kq9x2m4p7a1b8c", "alice", "Alice", livekit.RolePublisher, "")
	fmt.Println(errors.Is(err, livekit.ErrUnavailable))
	// Output:
	// true false <nil>
	// true
}

// A moderator's token grants room admin on top of publish, subscribe and
// data; LiveKit verifies it with the same key and secret.
func ExampleClient_ParticipantToken() {
	c, err := livekit.New(livekit.Config{URL: "ws://127.0.0.1:7880", APIKey: "APIexample", APISecret: "example-secret-example-secret-example-se"})
	if err != nil {
		panic(err)
	}
	token, err := c.ParticipantToken("MyRoom-3kq9x2m4p7a1b8c", "alice", "Alice", livekit.RoleModerator, "")
	if err != nil {
		panic(err)
	}

	v, _ := auth.ParseAPIToken(token)
	_, grants, err := v.Verify("example-secret-example-secret-example-se")
	if err != nil {
		panic(err)
	}
	g := grants.Video
	fmt.Println(grants.Identity, g.Room, g.RoomJoin, g.RoomAdmin, g.GetCanPublish(), g.GetCanSubscribe(), g.GetCanPublishData())
	// Output: alice MyRoom-3kq9x2m4p7a1b8c true true true true true
}
