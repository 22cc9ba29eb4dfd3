package rooms

import (
	"context"
	"reflect"
	"time"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/handler"
	"github.com/roomkeeper/roomkeeper/store"
)

// TopicRoomConfigUpdated is the data signal of a room's new config
// (upstream MeetSignalType.MEET_ROOM_CONFIG_UPDATED).
const TopicRoomConfigUpdated = "meet_room_config_updated"

// roomConfigSignal is the payload of TopicRoomConfigUpdated (upstream
// MeetRoomConfigUpdatedPayload).
type roomConfigSignal struct {
	RoomID    string        `json:"roomId"`
	Config    events.Config `json:"config"`
	Timestamp int64         `json:"timestamp"`
}

// updateConfigHandler applies rooms.cmd.update_config (upstream PUT
// /rooms/{roomId}/config): the partial config is deep-merged into the
// room's, e2ee on turns recording off, and the result carries the whole
// config. A room with an active meeting refuses it (409), as upstream does.
//
// Upstream sends no signal (a meeting cannot be live when the update is
// accepted); roomkeeper sends meet_room_config_updated to a meeting LiveKit
// reports live anyway, which covers the moment between a meeting's start
// and its room_started.
type updateConfigHandler struct{ *Rooms }

func (h updateConfigHandler) Validate(c events.UpdateConfig, _ time.Time) error {
	return invalidBody(events.SubjectUpdateConfig, checkRoomID(c.RoomID))
}

func (h updateConfigHandler) Handle(ctx context.Context, job *handler.Job[events.UpdateConfig]) (*handler.Outcome, error) {
	id := CleanRoomID(job.Msg.RoomID)
	job.Log = job.Log.WithField("room_id", id)
	room, err := h.updateMeetRoom(ctx, id, job.ID, true, func(r *store.Room) bool {
		merged := mergeConfig(r.Config, &job.Msg.Config)
		if reflect.DeepEqual(merged, r.Config) {
			return false
		}
		r.Config = merged
		r.Preferences = preferencesOf(merged, &r.Preferences)
		return true
	})
	if err != nil {
		return nil, err
	}
	if err := h.refreshArchive(ctx, room); err != nil {
		return nil, err
	}
	h.signal(ctx, job.Log, room.RoomID, TopicRoomConfigUpdated,
		roomConfigSignal{RoomID: room.RoomID, Config: room.Config, Timestamp: job.Now.UnixMilli()})
	job.Log.Info("room config updated")
	view := room.View()
	out := &handler.Outcome{Data: view.Config}
	return out, changed(out, job.ID, events.EventConfigUpdated, room, job.Now)
}
