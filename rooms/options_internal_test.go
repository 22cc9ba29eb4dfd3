package rooms

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
)

// The deprecated names as upstream's normalizePermissions reads them.
func TestNormalizePermissions(t *testing.T) {
	t.Parallel()
	got, errs := normalizePermissions("p", map[string]bool{"canRetrieveRecordings": true, "recordingPlay": true, "canWriteChat": false, "meetingEnd": true})
	require.Empty(t, errs)
	require.Equal(t, map[string]bool{
		"recordingList": true, "recordingPlay": true, "recordingDownload": true, "chatWrite": false, "meetingEnd": true,
	}, got)

	_, errs = normalizePermissions("p", map[string]bool{"canRetrieveRecordings": false, "recordingDownload": true, "canFly": true})
	require.Equal(t, []events.FieldError{
		{Field: "p.canFly", Message: "is not a permission"},
		{Field: "p.canRetrieveRecordings", Message: "contradicts p.recordingDownload: the deprecated name and its replacement must agree"},
	}, errs)

	// Every deprecated name stands for current names only.
	for dep, repl := range PermissionAliases {
		for _, r := range repl {
			require.True(t, permissionNames[r], "%s -> %s", dep, r)
		}
	}
	require.Len(t, permissionNames, 16)
}

func TestMergeConfig(t *testing.T) {
	t.Parallel()
	base := events.DefaultConfig()
	base.MaxDurationMinutes = ptrTo(60)

	same := mergeConfig(base, nil)
	require.Equal(t, base, same, "nothing given, nothing changes")

	got := mergeConfig(base, &events.ConfigOptions{
		Recording:       &events.RecordingOptions{Enabled: ptrTo(false), Encoding: json.RawMessage(`{ "video": {}, "audio": {} }`)},
		MaxParticipants: events.Some(3),
	})
	require.False(t, got.Recording.Enabled)
	require.Equal(t, events.LayoutGrid, got.Recording.Layout, "absent: kept")
	require.Equal(t, `{"video":{},"audio":{}}`, string(got.Recording.Encoding), "replaced whole, compacted")
	require.Equal(t, 3, *got.MaxParticipants)
	require.Equal(t, 60, *got.MaxDurationMinutes, "absent: kept")
	require.True(t, got.Chat.Enabled)

	got = mergeConfig(got, &events.ConfigOptions{MaxDurationMinutes: events.Null[int](), Recording: &events.RecordingOptions{Enabled: ptrTo(true)}, E2EE: &events.EnabledOptions{Enabled: ptrTo(true)}})
	require.Nil(t, got.MaxDurationMinutes, "null: removed")
	require.False(t, got.Recording.Enabled, "e2ee wins over recording")
}

func TestMergeAccessKeepsURLs(t *testing.T) {
	t.Parallel()
	a := events.Access{
		Anonymous: events.AnonymousAccess{
			Moderator: events.Link{Enabled: true, URL: "m"}, Speaker: events.Link{Enabled: true, URL: "s"}, Recording: events.Link{Enabled: true, URL: "r"},
		},
		User: events.Link{URL: "u"},
	}
	got := mergeAccess(a, &events.AccessOptions{Anonymous: &events.AnonymousAccessOptions{Speaker: &events.SwitchOptions{}}})
	want := a
	want.Anonymous.Speaker.Enabled = false
	require.Equal(t, want, got)
	require.Equal(t, a, mergeAccess(a, nil))
}

func ptrTo[T any](v T) *T { return &v }
