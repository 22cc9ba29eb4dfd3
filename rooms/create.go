package rooms

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"strings"
	"time"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/handler"
	"github.com/roomkeeper/roomkeeper/store"
)

// createHandler applies rooms.cmd.create (upstream POST /rooms): a room in
// OpenVidu Meet's current model, answered with 201 and the room.
type createHandler struct{ *Rooms }

// createPlan holds the random choices of a create, stored with the claim so
// that every delivery builds the same room.
type createPlan struct {
	Suffix          string `json:"suffix"`
	ModeratorSecret string `json:"moderatorSecret"`
	// SpeakerSecret keeps the JSON name of the old model's publisher
	// secret, so a create claimed by the previous version converges too.
	SpeakerSecret string `json:"publisherSecret"`
	// RecordingSecret is new: a plan stored by the previous version has
	// none, and the create derives one from the plan (see
	// derivedRecordingSecret), so its every run converges too.
	RecordingSecret string `json:"recordingSecret,omitempty"`
	CreationDate    int64  `json:"creationDate"`
}

// Validate checks what the JSON Schema cannot: the autoDeletionDate's
// distance from now, the permission names of the roles, user access.
func (h createHandler) Validate(c events.CreateRoom, now time.Time) error {
	var errs []events.FieldError
	errs = append(errs, checkAutoDeletion(c.AutoDeletionDate, now, h.MinAutoDeletionDelay)...)
	errs = append(errs, checkRoles("roles", c.Roles)...)
	errs = append(errs, checkAccess("access", c.Access)...)
	if len(errs) > 0 {
		return events.Invalid("invalid "+events.SubjectCreate+" body", sortDetails(errs)...)
	}
	return nil
}

// Plan makes the create's random choices before it is claimed, so the
// claim stores them in the same write.
func (h createHandler) Plan(_ context.Context, _ events.CreateRoom, now time.Time) (any, error) {
	return newCreatePlan(now)
}

func newCreatePlan(now time.Time) (createPlan, error) {
	suffix, err := randomSuffix(idSuffixLen)
	if err != nil {
		return createPlan{}, err
	}
	return createPlan{
		Suffix: suffix, ModeratorSecret: newSecret(), SpeakerSecret: newSecret(), RecordingSecret: newSecret(),
		CreationDate: now.UnixMilli(),
	}, nil
}

func (h createHandler) Handle(ctx context.Context, job *handler.Job[events.CreateRoom]) (*handler.Outcome, error) {
	plan, err := handler.Plan(ctx, job, func() (createPlan, error) { return newCreatePlan(job.Now) })
	if err != nil {
		return nil, err
	}
	if plan.RecordingSecret == "" {
		plan.RecordingSecret = derivedRecordingSecret(plan)
	}
	room := h.build(job.Msg, plan)
	room.MarkApplied(job.ID)
	job.Log = job.Log.WithField("room_id", room.RoomID)
	view := room.View()
	// The room goes in with the completion.
	out := &handler.Outcome{Data: view, Status: 201, Writes: []store.Write{store.InsertRoom(room)}}
	if room.Preferences.RecordingPreferences.Enabled {
		out.Writes = append(out.Writes, store.PutArchived(archive(room)))
	}
	if err := out.Event(job.ID, events.EventCreated, room.RoomID, job.Now, view); err != nil {
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
		if s := CleanRoomName(*c.RoomName); s != "" {
			name = s
		}
	}
	id := RoomIDPrefix(name) + "-" + p.Suffix
	config := events.DefaultConfig()
	if c.Preferences != nil {
		config.Chat.Enabled = c.Preferences.ChatPreferences.Enabled
		config.Recording.Enabled = c.Preferences.RecordingPreferences.Enabled
		config.VirtualBackground.Enabled = c.Preferences.VirtualBackgroundPreferences.Enabled
	}
	config = mergeConfig(config, c.Config)
	access := mergeAccess(events.Access{
		Anonymous: events.AnonymousAccess{
			Moderator: events.Link{Enabled: true, URL: h.roomURL(id, p.ModeratorSecret)},
			Speaker:   events.Link{Enabled: true, URL: h.roomURL(id, p.SpeakerSecret)},
			Recording: events.Link{Enabled: true, URL: h.recordingsURL(id, p.RecordingSecret)},
		},
		User: events.Link{Enabled: false, URL: h.userURL(id)},
	}, c.Access)
	r := &store.Room{
		RoomID:           id,
		RoomName:         name,
		CreationDate:     p.CreationDate,
		AutoDeletionDate: c.AutoDeletionDate,
		SchemaVersion:    store.RoomSchemaVersion,
		Owner:            events.OwnerAdmin,
		Config:           config,
		Roles:            mergeRoles(events.DefaultRoles(), c.Roles),
		Access:           access,
		Status:           events.StatusOpen,
		RolesUpdatedAt:   p.CreationDate,
		MeetingEndAction: events.EndActionNone,
		ModeratorSecret:  p.ModeratorSecret,
		SpeakerSecret:    p.SpeakerSecret,
		RecordingSecret:  p.RecordingSecret,
		// The old model's fields, until it goes: the speaker link is the
		// old publisher link.
		ModeratorRoomURL: access.Anonymous.Moderator.URL,
		PublisherRoomURL: access.Anonymous.Speaker.URL,
		PublisherSecret:  p.SpeakerSecret,
	}
	if c.AutoDeletionDate != nil {
		r.AutoDeletionPolicy = autoDeletionPolicy(c.AutoDeletionPolicy)
	}
	r.Preferences = preferencesOf(config, c.Preferences)
	return r
}

// derivedRecordingSecret is the recording link's secret of a create
// planned by the previous version (whose plan has none): 128 bits of an
// HMAC-SHA256 keyed with the plan's two secrets over its ID suffix, so
// every run derives the same one. It cannot be guessed without those
// secrets; a holder of the moderator link, who may see the recordings
// anyway, could derive it.
func derivedRecordingSecret(p createPlan) string {
	mac := hmac.New(sha256.New, []byte(p.ModeratorSecret+"\x00"+p.SpeakerSecret))
	_, _ = mac.Write([]byte("roomkeeper create recording link v1\x00" + p.Suffix))
	return strings.ToUpper(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(mac.Sum(nil)[:16]))
}

// preferencesOf is the old model's preferences of a room with config c
// (the allowAccessTo of prefs, when given, or the default).
func preferencesOf(c events.Config, prefs *events.Preferences) events.Preferences {
	p := events.DefaultPreferences()
	if prefs != nil {
		p.RecordingPreferences.AllowAccessTo = prefs.RecordingPreferences.AllowAccessTo
	}
	p.ChatPreferences.Enabled = c.Chat.Enabled
	p.RecordingPreferences.Enabled = c.Recording.Enabled
	p.VirtualBackgroundPreferences.Enabled = c.VirtualBackground.Enabled
	return p
}

// recordingsURL is the anonymous link to a room's recordings.
func (r *Rooms) recordingsURL(roomID, secret string) string {
	return fmt.Sprintf("%s/room/%s/recordings?secret=%s", strings.TrimRight(r.BaseURL, "/"), roomID, secret)
}

// userURL is the link of a room for Meet users (no secret).
func (r *Rooms) userURL(roomID string) string {
	return fmt.Sprintf("%s/room/%s", strings.TrimRight(r.BaseURL, "/"), roomID)
}

// archive is the metadata kept for a room's recordings.
func archive(r *store.Room) *store.ArchivedRoom {
	return &store.ArchivedRoom{
		RoomID: r.RoomID, RoomName: r.RoomName, Preferences: r.Preferences,
		ModeratorRoomURL: r.ModeratorRoomURL, PublisherRoomURL: r.PublisherRoomURL,
		ModeratorSecret: r.ModeratorSecret, PublisherSecret: r.PublisherSecret,
	}
}
