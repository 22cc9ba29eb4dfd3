package app_test

import (
	"context"
	"go/parser"
	"go/token"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/internal/app"
	"github.com/roomkeeper/roomkeeper/internal/testenv"
	lktest "github.com/roomkeeper/roomkeeper/internal/testenv/livekit"
)

// A full create / role / recording token / participant token / webhook /
// update / delete flow through `serve` and a real livekit-server, at debug
// level: no room secret, no API secret and no token may appear in the logs.
func TestSecretsNeverLogged(t *testing.T) {
	httpAddr := freeAddr(t)
	lk := lktest.Start(t, lktest.Options{
		WebhookURL:       "http://" + httpAddr + "/livekit/webhook",
		EmptyTimeout:     2 * time.Second,
		DepartureTimeout: 2 * time.Second,
	})
	cfg := testConfig(t)
	cfg.HTTPAddr = httpAddr
	cfg.LogLevel = "debug"
	cfg.LiveKitURL, cfg.LiveKitAPIKey, cfg.LiveKitAPISecret = lk.URL, lk.APIKey, lk.APISecret
	cfg.MeetingEmptyTimeout, cfg.MeetingDepartureTimeout = 2*time.Second, 2*time.Second

	// Everything the process logs: its logger, and logrus' standard logger
	// in case some part falls back to it.
	sink := &testenv.Buffer{}
	log := cfg.Logger()
	log.SetOutput(sink)
	std := logrus.StandardLogger()
	stdOut, stdLevel := std.Out, std.GetLevel()
	std.SetOutput(sink)
	std.SetLevel(logrus.DebugLevel)
	t.Cleanup(func() { std.SetOutput(stdOut); std.SetLevel(stdLevel) })

	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.Start(ctx, cfg, app.All, log)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(30 * time.Second):
			t.Fatal("serve did not stop")
		}
	}
	t.Cleanup(stop)

	c, js := appClient(t, a)
	secrets := map[string]string{"LIVEKIT_API_SECRET": lk.APISecret}

	name := "secret keeper"
	room, err := c.CreateRoom(ctxT(t, 30*time.Second), cmdID("create"), events.CreateRoom{RoomName: &name})
	require.NoError(t, err)
	modSecret, pubSecret := secretOf(t, room.Access.Anonymous.Moderator.URL), secretOf(t, room.Access.Anonymous.Speaker.URL)
	secrets["moderator secret"], secrets["publisher secret"] = modSecret, pubSecret

	role, err := c.Role(ctxT(t, 10*time.Second), room.RoomID, modSecret)
	require.NoError(t, err)
	require.Equal(t, "moderator", role)
	role, err = c.Role(ctxT(t, 10*time.Second), room.RoomID, pubSecret)
	require.NoError(t, err)
	require.Equal(t, events.RoleSpeaker, role)
	wrong := "WRONGSECRETWRONGSECRETWRON"
	secrets["wrong secret"] = wrong
	_, err = c.Role(ctxT(t, 10*time.Second), room.RoomID, wrong)
	e, ok := events.AsError(err)
	require.True(t, ok, "%v", err)
	require.Equal(t, events.CodeInvalidSecret, e.Code)
	require.NotContains(t, e.Error(), wrong, "errors never echo a secret")

	rec, err := c.RecordingToken(ctxT(t, 10*time.Second), room.RoomID, modSecret)
	require.NoError(t, err)
	secrets["recording token"] = rec
	pt, err := c.ParticipantToken(ctxT(t, 30*time.Second), events.ParticipantTokenRequest{RoomID: room.RoomID, Secret: pubSecret, ParticipantName: "alice"})
	require.NoError(t, err)
	secrets["participant token"] = pt.Token

	// A real meeting: LiveKit's signed webhooks go through the receiver.
	part := lktest.JoinWithToken(t, lk, pt.Token)
	waitEvent(t, js, events.EventMeetingStarted, room.RoomID, 20*time.Second)
	// A forged webhook, and one signed with another secret.
	for _, authz := range []string{"Bearer forged.token.value", rec} {
		req, err := http.NewRequest(http.MethodPost, "http://"+httpAddr+"/livekit/webhook", strings.NewReader(`{"event":"room_finished","id":"EV_forged","room":{"name":"`+room.RoomID+`"}}`))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/webhook+json")
		req.Header.Set("Authorization", authz)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	}
	secrets["forged authorization"] = "forged.token.value"

	prefs := events.DefaultPreferences()
	prefs.ChatPreferences.Enabled = false
	_, err = c.UpdatePreferences(ctxT(t, 30*time.Second), cmdID("prefs"), events.UpdatePreferences{RoomID: room.RoomID, Preferences: prefs})
	require.NoError(t, err)
	res, err := c.DeleteRooms(ctxT(t, 30*time.Second), cmdID("del"), events.DeleteRooms{RoomIDs: []string{room.RoomID}, WithMeeting: events.PolicyWhenMeetingEnds})
	require.NoError(t, err)
	require.Equal(t, events.DeleteSuccessRoomWithActiveMeetingScheduledToBeDeleted, res.Deleted[0].SuccessCode)
	part.Leave()
	waitEvent(t, js, events.EventDeleted, room.RoomID, 20*time.Second)
	stop()

	logs := sink.String()
	require.Contains(t, logs, "level=debug", "debug logging was on and captured")
	require.Contains(t, logs, "msg=handled", "the pipeline's debug lines were captured")
	require.Contains(t, logs, room.RoomID, "the logs do talk about the room")
	lines := strings.Count(logs, "\n")
	for what, s := range secrets {
		require.NotEmpty(t, s, what)
		require.NotContains(t, logs, s, "%s appears in the logs", what)
		// A JWT's signature alone would do harm too.
		if parts := strings.Split(s, "."); len(parts) == 3 {
			require.NotContains(t, logs, parts[2], "the signature of the %s appears in the logs", what)
		}
	}
	t.Logf("%d log lines checked for %d secrets and tokens", lines, len(secrets))
}

// secretOf returns the secret query parameter of a room link.
func secretOf(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	require.NoError(t, err)
	s := u.Query().Get("secret")
	require.GreaterOrEqual(t, len(s), 26, "at least 128 bits")
	return s
}

// The packages that make secrets, room IDs and tokens import no
// predictable random source (secrets come from crypto/rand).
func TestSecretsFromCryptoRand(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{"../../workers", "../../livekit", "../../webhooks", "../../events", "../../store/sqlite", "../../store/mongo"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		require.NoError(t, err)
		require.NotEmpty(t, files, dir)
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			src, err := os.ReadFile(f)
			require.NoError(t, err)
			parsed, err := parser.ParseFile(token.NewFileSet(), f, src, parser.ImportsOnly)
			require.NoError(t, err)
			for _, imp := range parsed.Imports {
				p, _ := strconv.Unquote(imp.Path.Value)
				require.NotContains(t, []string{"math/rand", "math/rand/v2"}, p, "%s imports %s", f, p)
			}
		}
	}
}
