package ctl_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
)

func TestCommandsByState(t *testing.T) {
	t.Parallel()
	url := embedded(t)
	ok := roomctl(t, url, "create", "--id", "made-room")
	require.Equal(t, 0, ok.code, ok.errOut)
	failed := roomctl(t, url, "update-status", "Gone-000000000000000", "closed", "--id", "closed-gone")
	require.Equal(t, 1, failed.code, failed.errOut)
	deadCreate(t, url, "bad-body")

	r := roomctl(t, url, "commands", "done")
	require.Equal(t, 0, r.code, r.errOut)
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	require.Len(t, lines, 2, r.out)
	require.Regexp(t, `^COMMAND ID\s+TYPE\s+STATE\s+STATUS\s+CLAIMED\s+COMPLETED\s+ERROR$`, lines[0])
	require.Regexp(t, `^made-room\s+rooms\.cmd\.create\s+done\s+201\s+\d{4}-\S+Z\s+\d{4}-\S+Z\s+-$`, lines[1])

	r = roomctl(t, url, "commands", "failed")
	require.Equal(t, 0, r.code, r.errOut)
	require.Regexp(t, `(?m)^closed-gone\s+rooms\.cmd\.update_status\s+failed\s+404\s+.*not_found: Room .Gone-000000000000000. does not exist$`, r.out)
	require.NotContains(t, r.out, "made-room")

	r = roomctl(t, url, "commands", "dead", "--json")
	require.Equal(t, 0, r.code, r.errOut)
	var rec events.CommandRecord
	require.NoError(t, json.Unmarshal([]byte(r.out), &rec), r.out)
	require.Equal(t, "bad-body", rec.CommandID)
	require.Equal(t, events.CommandDead, rec.State)
	var res events.Result
	require.NoError(t, json.Unmarshal(rec.Result, &res))
	require.Equal(t, events.CodeInvalidArgument, res.Error.Code)

	r = roomctl(t, url, "commands", "pending")
	require.Equal(t, 0, r.code, r.errOut)
	require.Equal(t, 1, strings.Count(r.out, "\n"), r.out)

	// --type by name or subject.
	r = roomctl(t, url, "commands", "done", "--type", "delete")
	require.Equal(t, 0, r.code, r.errOut)
	require.NotContains(t, r.out, "made-room")
	r = roomctl(t, url, "commands", "done", "--type", "rooms.cmd.create")
	require.Contains(t, r.out, "made-room")

	// Paging: more creates than one page, --limit bounds what is shown.
	for range 4 {
		require.Equal(t, 0, roomctl(t, url, "create").code)
	}
	r = roomctl(t, url, "commands", "done", "--max-items", "2", "--limit", "0")
	require.Len(t, strings.Split(strings.TrimSpace(r.out), "\n"), 6, r.out)
	r = roomctl(t, url, "commands", "done", "--max-items", "2", "--limit", "3")
	require.Len(t, strings.Split(strings.TrimSpace(r.out), "\n"), 4, r.out)
	require.NotContains(t, r.out, "made-room", "the oldest comes last")

	r = roomctl(t, url, "commands", "stuck")
	require.Equal(t, 2, r.code)
}
