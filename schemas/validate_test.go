package schemas_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/schemas"
)

const validPrefs = `{"chatPreferences":{"enabled":true},"recordingPreferences":{"enabled":true,"allowAccessTo":"admin"},"virtualBackgroundPreferences":{"enabled":false}}`

func TestValidateCommand(t *testing.T) {
	t.Parallel()
	name51 := strings.Repeat("a", 51)
	tests := []struct {
		name    string
		subject string
		body    string
		field   string // "" when the body is valid
		message string // checked when not empty
	}{
		{"create empty object", events.SubjectCreate, `{}`, "", ""},
		{"create empty body", events.SubjectCreate, ``, "", ""},
		{"create full", events.SubjectCreate, `{"roomName":"My Room","autoDeletionDate":1900000000000,"preferences":` + validPrefs + `}`, "", ""},
		{"create unknown property ignored", events.SubjectCreate, `{"roomName":"x","colour":"blue"}`, "", ""},
		{"create name 50 characters", events.SubjectCreate, `{"roomName":"` + name51[:50] + `"}`, "", ""},
		{"create recording disabled without access", events.SubjectCreate, `{"preferences":{"chatPreferences":{"enabled":true},"recordingPreferences":{"enabled":false},"virtualBackgroundPreferences":{"enabled":true}}}`, "", ""},
		{"roomName number", events.SubjectCreate, `{"roomName":12}`, "roomName", "must be null or a string"},
		{"roomName boolean", events.SubjectCreate, `{"roomName":true}`, "roomName", "must be null or a string"},
		{"roomName null (the default name)", events.SubjectCreate, `{"roomName":null}`, "", ""},
		{"roomName 51 characters", events.SubjectCreate, `{"roomName":"` + name51 + `"}`, "roomName", "must be at most 50 characters"},
		{"autoDeletionDate string", events.SubjectCreate, `{"autoDeletionDate":"1900000000000"}`, "autoDeletionDate", "must be an integer"},
		{"autoDeletionDate boolean", events.SubjectCreate, `{"autoDeletionDate":false}`, "autoDeletionDate", "must be an integer"},
		{"autoDeletionDate null", events.SubjectCreate, `{"autoDeletionDate":null}`, "autoDeletionDate", "must be an integer"},
		{"autoDeletionDate fraction", events.SubjectCreate, `{"autoDeletionDate":1900000000000.5}`, "autoDeletionDate", "must be an integer"},
		{"autoDeletionDate negative", events.SubjectCreate, `{"autoDeletionDate":-1}`, "autoDeletionDate", "must be at least 0"},
		{"recording enabled without allowAccessTo", events.SubjectCreate, `{"preferences":{"chatPreferences":{"enabled":true},"recordingPreferences":{"enabled":true},"virtualBackgroundPreferences":{"enabled":true}}}`, "preferences.recordingPreferences.allowAccessTo", "is required"},
		{"allowAccessTo unknown", events.SubjectCreate, `{"preferences":{"chatPreferences":{"enabled":true},"recordingPreferences":{"enabled":true,"allowAccessTo":"everyone"},"virtualBackgroundPreferences":{"enabled":true}}}`, "preferences.recordingPreferences.allowAccessTo", "must be one of admin, admin-moderator, admin-moderator-publisher"},
		{"preferences missing a sub-object", events.SubjectCreate, `{"preferences":{"chatPreferences":{"enabled":true},"recordingPreferences":{"enabled":false}}}`, "preferences.virtualBackgroundPreferences", "is required"},
		{"preferences enabled missing", events.SubjectCreate, `{"preferences":{"chatPreferences":{},"recordingPreferences":{"enabled":false},"virtualBackgroundPreferences":{"enabled":true}}}`, "preferences.chatPreferences.enabled", "is required"},
		{"preferences enabled a string", events.SubjectCreate, `{"preferences":{"chatPreferences":{"enabled":"yes"},"recordingPreferences":{"enabled":false},"virtualBackgroundPreferences":{"enabled":true}}}`, "preferences.chatPreferences.enabled", "must be a boolean"},
		{"preferences not an object", events.SubjectCreate, `{"preferences":"all"}`, "preferences", "must be an object"},
		{"body an array", events.SubjectCreate, `[]`, "body", "must be a JSON object"},
		{"malformed JSON", events.SubjectCreate, `{"roomName":`, "body", "malformed JSON"},
		{"trailing garbage", events.SubjectCreate, `{} x`, "body", "malformed JSON"},

		{"delete", events.SubjectDelete, `{"roomIds":["a-123456789012345"],"force":true}`, "", ""},
		{"delete without force", events.SubjectDelete, `{"roomIds":["a","b"]}`, "", ""},
		{"delete empty roomIds", events.SubjectDelete, `{"roomIds":[]}`, "roomIds", "must hold at least one item"},
		{"delete roomIds not an array", events.SubjectDelete, `{"roomIds":"a"}`, "roomIds", "must be an array"},
		{"delete roomIds missing", events.SubjectDelete, `{}`, "roomIds", "is required"},
		{"delete roomId a number", events.SubjectDelete, `{"roomIds":["a",7]}`, "roomIds[1]", "must be a string"},
		{"delete force a string", events.SubjectDelete, `{"roomIds":["a"],"force":"yes"}`, "force", "must be a boolean"},

		{"update_preferences", events.SubjectUpdatePreferences, `{"roomId":"a-123456789012345","preferences":` + validPrefs + `}`, "", ""},
		{"update_preferences without preferences", events.SubjectUpdatePreferences, `{"roomId":"a"}`, "preferences", "is required"},
		{"update_preferences without roomId", events.SubjectUpdatePreferences, `{"preferences":` + validPrefs + `}`, "roomId", "is required"},
		{"update_preferences roomId a number", events.SubjectUpdatePreferences, `{"roomId":1,"preferences":` + validPrefs + `}`, "roomId", "must be a string"},
		{"update_preferences incomplete", events.SubjectUpdatePreferences, `{"roomId":"a","preferences":{"chatPreferences":{"enabled":true}}}`, "preferences.recordingPreferences", "is required"},
		{"update_preferences wrong type", events.SubjectUpdatePreferences, `{"roomId":"a","preferences":{"chatPreferences":{"enabled":1},"recordingPreferences":{"enabled":false},"virtualBackgroundPreferences":{"enabled":true}}}`, "preferences.chatPreferences.enabled", "must be a boolean"},

		{"sweep", events.SubjectSweep, `{}`, "", ""},
		{"sweep empty body", events.SubjectSweep, ` `, "", ""},
		{"sweep not an object", events.SubjectSweep, `42`, "body", "must be a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := schemas.ValidateCommand(tt.subject, []byte(tt.body))
			if tt.field == "" {
				require.NoError(t, err)
				return
			}
			requireField(t, err, tt.field, tt.message)
		})
	}
}

// requireField checks err is an invalid_argument *events.Error with a detail
// naming field (with message, when not empty).
func requireField(t *testing.T, err error, field, message string) {
	t.Helper()
	require.Error(t, err)
	e, ok := events.AsError(err)
	require.True(t, ok, "not an *events.Error: %v", err)
	require.Equal(t, events.CodeInvalidArgument, e.Code)
	for _, d := range e.Details {
		if d.Field == field && (message == "" || d.Message == message) {
			return
		}
	}
	require.Failf(t, "no detail for the field", "want %s %q, got %+v", field, message, e.Details)
}

func TestValidateQuery(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		subject string
		body    string
		field   string
		message string
	}{
		{"get", events.APIGet, `{"roomId":"a-123456789012345","fields":"roomId,roomName"}`, "", ""},
		{"get without roomId", events.APIGet, `{}`, "roomId", "is required"},
		{"list empty", events.APIList, `{}`, "", ""},
		{"list empty body", events.APIList, ``, "", ""},
		{"list fractional maxItems reaches the code", events.APIList, `{"maxItems":12.78}`, "", ""},
		{"list maxItems over 100 reaches the code", events.APIList, `{"maxItems":101,"nextPageToken":"x","fields":"roomId"}`, "", ""},
		{"list maxItems 0", events.APIList, `{"maxItems":0}`, "maxItems", "must be at least 1"},
		{"list maxItems -1", events.APIList, `{"maxItems":-1}`, "maxItems", "must be at least 1"},
		{"list maxItems a string", events.APIList, `{"maxItems":"10"}`, "maxItems", "must be a number"},
		{"list NaN is not JSON", events.APIList, `{"maxItems":NaN}`, "body", "malformed JSON"},
		{"list nextPageToken a number", events.APIList, `{"nextPageToken":3}`, "nextPageToken", "must be a string"},
		{"role", events.APIRole, `{"roomId":"a","secret":"s"}`, "", ""},
		{"role without secret", events.APIRole, `{"roomId":"a"}`, "secret", "is required"},
		{"recording_token", events.APIRecordingToken, `{"roomId":"a","secret":"s"}`, "", ""},
		{"recording_token secret a number", events.APIRecordingToken, `{"roomId":"a","secret":1}`, "secret", "must be a string"},
		{"participant_token", events.APIParticipantToken, `{"roomId":"a","secret":"s","participantName":"Ann"}`, "", ""},
		{"participant_token without name", events.APIParticipantToken, `{"roomId":"a","secret":"s"}`, "participantName", "is required"},
		{"participant_token empty name", events.APIParticipantToken, `{"roomId":"a","secret":"s","participantName":""}`, "participantName", "must not be empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := schemas.ValidateQuery(tt.subject, []byte(tt.body))
			if tt.field == "" {
				require.NoError(t, err)
				return
			}
			requireField(t, err, tt.field, tt.message)
		})
	}
}

func TestUnknownSubject(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"rooms.cmd.frobnicate", "rooms.cmd.", events.APIGet} {
		err := schemas.ValidateCommand(s, []byte(`{}`))
		require.ErrorIs(t, err, schemas.ErrUnknownSubject, s)
	}
	require.ErrorIs(t, schemas.ValidateQuery(events.SubjectCreate, []byte(`{}`)), schemas.ErrUnknownSubject)
	require.ErrorIs(t, schemas.Validate("nope", []byte(`{}`)), schemas.ErrUnknownSchema)
}

func TestSecretNeverEchoed(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-value-never-shown"
	err := schemas.ValidateQuery(events.APIRole, []byte(`{"roomId":"`+secret+`","secret":["`+secret+`"]}`))
	require.Error(t, err)
	require.NotContains(t, err.Error(), secret)
	e, _ := events.AsError(err)
	for _, d := range e.Details {
		require.NotContains(t, d.Message, secret)
	}
	require.False(t, errors.Is(err, schemas.ErrUnknownSubject))
}

func TestValidateEdgeCases(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body, field, message string
	}{
		{"huge number", `{"autoDeletionDate":1e400}`, "autoDeletionDate", "must be at most 8640000000000000"},
		{"null body", `null`, "body", "must be a JSON object"},
		{"string body", `"x"`, "body", "must be a JSON object"},
		{"two values", `{}{}`, "body", "malformed JSON"},
		{"deep preferences", `{"preferences":{"chatPreferences":{"enabled":true},"recordingPreferences":{"enabled":true,"allowAccessTo":7},"virtualBackgroundPreferences":[]}}`, "preferences.virtualBackgroundPreferences", "must be an object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			requireField(t, schemas.ValidateCommand(events.SubjectCreate, []byte(tt.body)), tt.field, tt.message)
		})
	}
	// Whole numbers written with an exponent are integers for JSON Schema.
	require.NoError(t, schemas.ValidateCommand(events.SubjectCreate, []byte(`{"autoDeletionDate":1.9e12}`)))
}
