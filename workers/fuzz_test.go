package workers_test

import (
	"context"
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/handler"
	"github.com/roomkeeper/roomkeeper/internal/testenv"
	"github.com/roomkeeper/roomkeeper/internal/workertest"
	"github.com/roomkeeper/roomkeeper/queries"
	"github.com/roomkeeper/roomkeeper/rooms"
	"github.com/roomkeeper/roomkeeper/schemas"
	"github.com/roomkeeper/roomkeeper/store"
	"github.com/roomkeeper/roomkeeper/store/sqlite"
)

// commandSubjects are the command subjects of the registry, in order.
func commandSubjects(t testing.TB, reg *handler.Registry) []string {
	var out []string
	for _, s := range reg.Subjects() {
		if strings.HasPrefix(s, events.CommandPrefix) {
			out = append(out, s)
		}
	}
	require.NotEmpty(t, out)
	return out
}

// FuzzDecodeCommand: for every command subject, the pipeline's decoding
// (schema, unmarshal, the handler's rules) never panics, and gives either
// a command of the subject's type that passes the schema again once
// re-encoded, or an invalid_argument *events.Error naming a field.
func FuzzDecodeCommand(f *testing.F) {
	reg := handler.NewRegistry()
	rooms := &rooms.Rooms{BaseURL: "http://localhost:8080", MinAutoDeletionDelay: time.Hour}
	require.NoError(f, rooms.Register(reg))
	subjects := commandSubjects(f, reg)
	now := time.UnixMilli(1_764_000_000_000)

	f.Add(uint8(0), []byte(`{"roomName":"My Room","autoDeletionDate":1764100000000}`))
	f.Add(uint8(0), []byte(`{"preferences":{"chatPreferences":{"enabled":true},"recordingPreferences":{"enabled":true,"allowAccessTo":"admin"},"virtualBackgroundPreferences":{"enabled":false}}}`))
	f.Add(uint8(1), []byte(`{"roomIds":["a","a","$$"],"force":true}`))
	f.Add(uint8(2), []byte(`{}`))
	f.Add(uint8(3), []byte(`{"roomId":"r","preferences":{"chatPreferences":{"enabled":true},"recordingPreferences":{"enabled":false},"virtualBackgroundPreferences":{"enabled":true}}}`))
	// Property names in other letter case are unknown properties: the
	// schema does not check them, so the decoding must not take them.
	f.Add(uint8(0), []byte(`{"ROOMNAME":"`+strings.Repeat("x", 60)+`"}`))
	f.Add(uint8(0), []byte(`{"Preferences":{"chatPreferences":{"enabled":true},"recordingPreferences":{"enabled":true,"allowAccessTo":"everyone"},"virtualBackgroundPreferences":{"enabled":true}}}`))

	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		subject := subjects[int(which)%len(subjects)]
		msg, ok, err := workertest.Decode(reg, subject, body, now)
		require.True(t, ok)
		if err != nil {
			e, isErr := events.AsError(err)
			require.True(t, isErr, "%s: not an *events.Error: %v", subject, err)
			require.Equal(t, events.CodeInvalidArgument, e.Code, "%s: %v", subject, err)
			require.NotEmpty(t, e.Message)
			require.Nil(t, msg)
			return
		}
		cmd, isCmd := msg.(events.Command)
		require.True(t, isCmd, "%s decoded to %T", subject, msg)
		require.Equal(t, subject, cmd.Subject())
		raw, err := json.Marshal(cmd)
		require.NoError(t, err)
		require.NoError(t, schemas.ValidateCommand(subject, raw), "re-encoded %s: %s", subject, raw)
		switch c := msg.(type) {
		case events.CreateRoom:
			if c.AutoDeletionDate != nil {
				require.GreaterOrEqual(t, *c.AutoDeletionDate, now.Add(time.Hour).UnixMilli())
			}
		case events.DeleteRooms:
			require.NotEmpty(t, c.RoomIDs)
		}
	})
}

// FuzzMaxItems: the page size coercion of rooms.api.list gives 1..100 or
// an invalid_argument error, for every finite number.
func FuzzMaxItems(f *testing.F) {
	for _, v := range []float64{0, 1, 1.5, 10, 99.99, 100, 101, 1e300, -1, 0.999, -0.5} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v float64) {
		n, err := queries.MaxItems(&v)
		if math.IsNaN(v) || math.Floor(v) < 1 {
			e, ok := events.AsError(err)
			require.True(t, ok, "%v: %v", v, err)
			require.Equal(t, events.CodeInvalidArgument, e.Code)
			return
		}
		require.NoError(t, err, "%v", v)
		require.Equal(t, int(math.Min(math.Floor(v), queries.MaxMaxItems)), n)
		require.GreaterOrEqual(t, n, 1)
		require.LessOrEqual(t, n, queries.MaxMaxItems)
	})
}

// FuzzQuery: whatever the request body, every rooms.api.* endpoint of the
// query service answers (no panic, no silence) with a reply that matches
// its schema or a query error that is not internal, and never echoes the
// secret it was given.
func FuzzQuery(f *testing.F) {
	n := testenv.StartNATS(f)
	nc, _ := n.Bootstrap(f, nil)
	st, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(f.TempDir(), "roomkeeper.db")})
	require.NoError(f, err)
	f.Cleanup(func() { _ = st.Close() })
	room := &store.Room{
		RoomID: "Fuzz-abcdefghijklmno", RoomName: "Fuzz", CreationDate: 1_764_000_000_000,
		Preferences: events.DefaultPreferences(), ModeratorSecret: "MODSECRETMODSECRETMODSECRE", PublisherSecret: "PUBSECRETPUBSECRETPUBSECRE",
		ModeratorRoomURL: "http://localhost:8080/room/Fuzz-abcdefghijklmno?secret=MODSECRETMODSECRETMODSECRE",
		PublisherRoomURL: "http://localhost:8080/room/Fuzz-abcdefghijklmno?secret=PUBSECRETPUBSECRETPUBSECRE",
	}
	require.NoError(f, st.InsertRoom(context.Background(), room))
	quiet := logrus.New()
	quiet.SetLevel(logrus.ErrorLevel)
	q, err := queries.New(queries.Config{Store: st, Log: quiet})
	require.NoError(f, err)
	_, err = q.Start(nc)
	require.NoError(f, err)
	f.Cleanup(func() { _ = q.Close() })
	subjects := []string{events.APIGet, events.APIList, events.APIRole, events.APIRecordingToken, events.APIParticipantToken, events.APIConfig}

	f.Add(uint8(0), []byte(`{"roomId":"Fuzz-abcdefghijklmno","fields":"roomId,roomName"}`))
	f.Add(uint8(1), []byte(`{"maxItems":1.5,"nextPageToken":"r1:x"}`))
	f.Add(uint8(1), []byte(`{"maxItems":0}`))
	f.Add(uint8(2), []byte(`{"roomId":"Fuzz-abcdefghijklmno","secret":"MODSECRETMODSECRETMODSECRE"}`))
	f.Add(uint8(2), []byte(`{"roomId":"Fuzz-abcdefghijklmno","secret":"wrong-secret-value"}`))
	f.Add(uint8(3), []byte(`{"roomId":"Fuzz-abcdefghijklmno","secret":"PUBSECRETPUBSECRETPUBSECRE"}`))
	f.Add(uint8(4), []byte(`{"roomId":"Fuzz-abcdefghijklmno","secret":"PUBSECRETPUBSECRETPUBSECRE","participantName":"p"}`))
	f.Add(uint8(5), []byte(`{"roomId":"Fuzz-abcdefghijklmno"}`))
	f.Add(uint8(1), []byte(`{"roomName":"(","roomNameMatchMode":"regex","sortField":"roomName","nextPageToken":"cjI6e30"}`))

	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		subject := subjects[int(which)%len(subjects)]
		msg, err := nc.Request(subject, body, 10*time.Second)
		require.NoError(t, err, "%s gave no answer", subject)
		var reply struct {
			Error *events.Error `json:"error"`
		}
		require.NoError(t, json.Unmarshal(msg.Data, &reply), "%s: %s", subject, msg.Data)
		if reply.Error != nil {
			require.Contains(t, []string{events.CodeInvalidArgument, events.CodeNotFound, events.CodeInvalidSecret, events.CodeForbidden, events.CodeConflict, events.CodeUnavailable}, reply.Error.Code, "%s %q: %s", subject, body, msg.Data)
			require.NotEmpty(t, msg.Header.Get("Nats-Service-Error-Code"), "micro error headers")
		} else {
			name, ok := schemas.ReplySchemaFor(subject)
			require.True(t, ok)
			require.NoError(t, schemas.Validate(name, msg.Data), "%s %q: %s", subject, body, msg.Data)
		}
		var req struct {
			RoomID string `json:"roomId"`
			Secret string `json:"secret"`
		}
		// (A secret inside the room ID may be echoed with the room ID.)
		if json.Unmarshal(body, &req) == nil && len(req.Secret) >= 8 && reply.Error != nil && !strings.Contains(req.RoomID, req.Secret) {
			require.NotContains(t, string(msg.Data), req.Secret, "the secret is echoed")
		}
	})
}
