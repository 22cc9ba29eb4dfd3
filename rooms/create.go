package rooms

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/handler"
	"github.com/roomkeeper/roomkeeper/store"
)

// createHandler applies rooms.cmd.create.
type createHandler struct{ *Rooms }

// createPlan holds the random choices of a create, stored with the claim so
// that every delivery builds the same room.
type createPlan struct {
	Suffix          string `json:"suffix"`
	ModeratorSecret string `json:"moderatorSecret"`
	PublisherSecret string `json:"publisherSecret"`
	CreationDate    int64  `json:"creationDate"`
}

// DefaultRoomName is the name of a room created without one.
const DefaultRoomName = "Room"

func (h createHandler) Validate(c events.CreateRoom, now time.Time) error {
	if c.AutoDeletionDate != nil {
		earliest := now.Add(h.MinAutoDeletionDelay).UnixMilli()
		if *c.AutoDeletionDate < earliest {
			return events.Invalid("autoDeletionDate too soon", events.FieldError{
				Field:   "autoDeletionDate",
				Message: fmt.Sprintf("must be at least %s in the future (epoch milliseconds)", h.MinAutoDeletionDelay),
			})
		}
	}
	return nil
}

// Plan makes the create's random choices before it is claimed, so the
// claim stores them in the same write.
func (h createHandler) Plan(_ context.Context, _ events.CreateRoom, now time.Time) (any, error) {
	return newCreatePlan(now)
}

func newCreatePlan(now time.Time) (createPlan, error) {
	suffix, err := randomSuffix(15)
	if err != nil {
		return createPlan{}, err
	}
	return createPlan{Suffix: suffix, ModeratorSecret: newSecret(), PublisherSecret: newSecret(), CreationDate: now.UnixMilli()}, nil
}

func (h createHandler) Handle(ctx context.Context, job *handler.Job[events.CreateRoom]) (*handler.Outcome, error) {
	plan, err := handler.Plan(ctx, job, func() (createPlan, error) { return newCreatePlan(job.Now) })
	if err != nil {
		return nil, err
	}
	room := h.build(job.Msg, plan)
	room.MarkApplied(job.ID)
	job.Log = job.Log.WithField("room_id", room.RoomID)
	// The room goes in with the completion.
	out := &handler.Outcome{Data: room.View(), Writes: []store.Write{store.InsertRoom(room)}}
	if room.Preferences.RecordingPreferences.Enabled {
		out.Writes = append(out.Writes, store.PutArchived(archive(room)))
	}
	if err := out.Event(job.ID, events.EventCreated, room.RoomID, job.Now, room.View()); err != nil {
		return nil, err
	}
	job.Log.Info("room created")
	return out, nil
}

// build makes the room of a create from its body and plan alone, so every
// delivery builds the same room.
func (h createHandler) build(c events.CreateRoom, p createPlan) *store.Room {
	name := DefaultRoomName
	if c.RoomName != nil {
		if s := SanitizeName(*c.RoomName); s != "" {
			name = s
		}
	}
	prefs := events.DefaultPreferences()
	if c.Preferences != nil {
		prefs = *c.Preferences
	}
	id := strings.ReplaceAll(name, " ", "") + "-" + p.Suffix
	return &store.Room{
		RoomID:           id,
		RoomName:         name,
		CreationDate:     p.CreationDate,
		AutoDeletionDate: c.AutoDeletionDate,
		Preferences:      prefs,
		ModeratorRoomURL: h.roomURL(id, p.ModeratorSecret),
		PublisherRoomURL: h.roomURL(id, p.PublisherSecret),
		ModeratorSecret:  p.ModeratorSecret,
		PublisherSecret:  p.PublisherSecret,
	}
}

// archive is the metadata kept for a room's recordings.
func archive(r *store.Room) *store.ArchivedRoom {
	return &store.ArchivedRoom{
		RoomID: r.RoomID, RoomName: r.RoomName, Preferences: r.Preferences,
		ModeratorRoomURL: r.ModeratorRoomURL, PublisherRoomURL: r.PublisherRoomURL,
		ModeratorSecret: r.ModeratorSecret, PublisherSecret: r.PublisherSecret,
	}
}
