package schemas_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/schemas"
)

var apiSubjects = []string{events.APIGet, events.APIList, events.APIRole, events.APIRecordingToken, events.APIParticipantToken}

// FuzzValidateQuery: for every rooms.api.* subject, request validation
// never panics, answers nil or an invalid_argument *events.Error, never
// echoes a secret, and accepts only what is a JSON object.
func FuzzValidateQuery(f *testing.F) {
	f.Add(uint8(0), []byte(`{"roomId":"r-1","fields":"roomId"}`))
	f.Add(uint8(1), []byte(`{"maxItems":5,"nextPageToken":"r1:abc"}`))
	f.Add(uint8(1), []byte(`{"maxItems":"ten"}`))
	f.Add(uint8(2), []byte(`{"roomId":"r","secret":"s3cr3t-value-123"}`))
	f.Add(uint8(3), []byte(`{"roomId":"r","secret":12345678901}`))
	f.Add(uint8(4), []byte(`{"roomId":"r","secret":"s3cr3t-value-123","participantName":""}`))
	f.Add(uint8(4), []byte(``))
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		subject := apiSubjects[int(which)%len(apiSubjects)]
		err := schemas.ValidateQuery(subject, body)
		if err == nil {
			var obj map[string]any
			if len(bytes.TrimSpace(body)) > 0 { // a blank request counts as {}
				require.NoError(t, json.Unmarshal(body, &obj), "%s accepted %q", subject, body)
			}
			return
		}
		e, ok := events.AsError(err)
		require.True(t, ok, "%s: %v", subject, err)
		require.Equal(t, events.CodeInvalidArgument, e.Code)
		var req struct {
			Secret string `json:"secret"`
		}
		if json.Unmarshal(body, &req) == nil && len(req.Secret) >= 8 {
			out, _ := json.Marshal(e)
			require.NotContains(t, string(out), req.Secret, "the secret is echoed")
		}
	})
}

// FuzzValidateCommand: command validation never panics and answers nil or
// an invalid_argument *events.Error.
func FuzzValidateCommand(f *testing.F) {
	f.Add(uint8(0), []byte(`{"roomName":"x","autoDeletionDate":1}`))
	f.Add(uint8(1), []byte(`{"roomIds":[]}`))
	f.Add(uint8(2), []byte(`{"roomId":"r","preferences":{}}`))
	f.Add(uint8(3), []byte(`[]`))
	f.Add(uint8(4), []byte(`{"roomId":"r","config":{"maxParticipants":null,"recording":{"encoding":"H264_720P_30"}}}`))
	f.Add(uint8(5), []byte(`{"roomId":"r","status":"closed"}`))
	f.Add(uint8(6), []byte(`{"roomId":"r","roles":{"speaker":{"permissions":{"canRecord":true}}}}`))
	f.Add(uint8(7), []byte(`{"roomId":"r","access":{"anonymous":{"speaker":{"enabled":false}}}}`))
	subjects := []string{events.SubjectCreate, events.SubjectDelete, events.SubjectUpdatePreferences, events.SubjectSweep,
		events.SubjectUpdateConfig, events.SubjectUpdateStatus, events.SubjectUpdateRoles, events.SubjectUpdateAccess}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		subject := subjects[int(which)%len(subjects)]
		err := schemas.ValidateCommand(subject, body)
		if err == nil {
			return
		}
		e, ok := events.AsError(err)
		require.True(t, ok, "%s: %v", subject, err)
		require.Equal(t, events.CodeInvalidArgument, e.Code)
	})
}
