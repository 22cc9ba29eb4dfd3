package roomlink_test

import (
	"context"

	"github.com/roomkeeper/roomkeeper/events"
)

type fakeQueries struct{}

func (fakeQueries) Role(context.Context, string, string) (string, error) { return "", nil }
func (fakeQueries) GetRoomWith(context.Context, events.GetRequest) (*events.RoomReply, error) {
	return nil, nil
}
func (fakeQueries) RecordingToken(context.Context, string, string) (string, error) { return "", nil }
