package queries_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/queries"
	"github.com/roomkeeper/roomkeeper/store"
)

// ledgerRecord claims command id of type typ and, unless status is
// pending, completes it with a result ok or not.
func ledgerRecord(t *testing.T, st store.Store, id, typ, status string, ok bool) {
	t.Helper()
	ctx := ctxT(t, 10*time.Second)
	_, err := st.ClaimCommand(ctx, &store.Command{ID: id, Type: typ})
	require.NoError(t, err)
	if status == store.StatusPending {
		return
	}
	res := events.Result{CommandID: id, Type: typ, OK: ok, Status: 200, Data: json.RawMessage(`{}`)}
	if !ok {
		res = events.Result{CommandID: id, Type: typ, Status: 404, Error: events.Errorf(events.CodeNotFound, "gone")}
	}
	raw, err := json.Marshal(res)
	require.NoError(t, err)
	_, err = st.CompleteCommand(ctx, id, store.Completion{Status: status, Result: raw})
	require.NoError(t, err)
}

// commandsPage sends a rooms.api.commands request and checks its reply
// against the schema.
func (b *bundle) commandsPage(t *testing.T, req events.CommandsRequest) events.CommandsReply {
	t.Helper()
	body, err := json.Marshal(req)
	require.NoError(t, err)
	var reply events.CommandsReply
	requireReply(t, events.APICommands, b.request(t, events.APICommands, string(body)), &reply)
	return reply
}

// commandIDs reads every page of a listing and returns the IDs in order,
// with the number of pages.
func (b *bundle) commandIDs(t *testing.T, req events.CommandsRequest) ([]string, int) {
	t.Helper()
	var ids []string
	for pages := 1; ; pages++ {
		reply := b.commandsPage(t, req)
		for _, it := range reply.Items {
			require.Equal(t, req.State, it.State)
			ids = append(ids, it.CommandID)
		}
		if !reply.Pagination.IsTruncated {
			require.Empty(t, reply.Pagination.NextPageToken)
			return ids, pages
		}
		req.NextPageToken = reply.Pagination.NextPageToken
		require.Less(t, pages, 100)
	}
}

func TestCommandsByState(t *testing.T) {
	t.Parallel()
	b := setupQueries(t, queryOpts{})
	// Oldest first: records of every state and two types.
	ledgerRecord(t, b.Store, "c-done-1", events.SubjectCreate, store.StatusDone, true)
	ledgerRecord(t, b.Store, "c-fail-1", events.SubjectUpdateStatus, store.StatusDone, false)
	ledgerRecord(t, b.Store, "c-dead-1", events.SubjectCreate, store.StatusDead, false)
	ledgerRecord(t, b.Store, "c-done-2", events.SubjectDelete, store.StatusDone, true)
	ledgerRecord(t, b.Store, "c-pend-1", events.SubjectCreate, store.StatusPending, false)
	ledgerRecord(t, b.Store, "c-fail-2", events.SubjectCreate, store.StatusDone, false)
	ledgerRecord(t, b.Store, "c-done-3", events.SubjectCreate, store.StatusDone, true)

	page := b.commandsPage(t, events.CommandsRequest{State: events.CommandFailed})
	require.Len(t, page.Items, 2)
	require.False(t, page.Pagination.IsTruncated)
	require.Equal(t, 10, page.Pagination.MaxItems)
	got := page.Items[0]
	require.Equal(t, "c-fail-2", got.CommandID)
	require.Equal(t, events.SubjectCreate, got.Type)
	require.Equal(t, 404, got.Status)
	require.NotZero(t, got.ClaimedAt)
	require.GreaterOrEqual(t, got.CompletedAt, got.ClaimedAt)
	var res events.Result
	require.NoError(t, json.Unmarshal(got.Result, &res))
	require.Equal(t, events.CodeNotFound, res.Error.Code)

	pend := b.commandsPage(t, events.CommandsRequest{State: events.CommandPending})
	require.Len(t, pend.Items, 1)
	require.Equal(t, events.CommandRecord{CommandID: "c-pend-1", Type: events.SubjectCreate, State: events.CommandPending, ClaimedAt: pend.Items[0].ClaimedAt}, pend.Items[0])

	for _, tc := range []struct {
		req  events.CommandsRequest
		want []string
	}{
		{events.CommandsRequest{State: events.CommandDone}, []string{"c-done-3", "c-done-2", "c-done-1"}},
		{events.CommandsRequest{State: events.CommandDone, MaxItems: 1}, []string{"c-done-3", "c-done-2", "c-done-1"}},
		{events.CommandsRequest{State: events.CommandDone, MaxItems: 2, Type: events.SubjectCreate}, []string{"c-done-3", "c-done-1"}},
		{events.CommandsRequest{State: events.CommandFailed, MaxItems: 1}, []string{"c-fail-2", "c-fail-1"}},
		{events.CommandsRequest{State: events.CommandDead}, []string{"c-dead-1"}},
		{events.CommandsRequest{State: events.CommandDead, Type: events.SubjectDelete}, nil},
	} {
		ids, _ := b.commandIDs(t, tc.req)
		require.Equal(t, tc.want, ids, "%+v", tc.req)
	}

	// A token belongs to its listing: another state or type is refused,
	// and so is one altered.
	first := b.commandsPage(t, events.CommandsRequest{State: events.CommandDone, MaxItems: 1})
	tok := first.Pagination.NextPageToken
	require.NotEmpty(t, tok)
	for _, body := range []string{
		`{"state":"failed","nextPageToken":"` + tok + `"}`,
		`{"state":"done","type":"rooms.cmd.create","nextPageToken":"` + tok + `"}`,
		`{"state":"done","nextPageToken":"` + tok[:len(tok)-2] + `AA"}`,
		`{"state":"stuck"}`,
		`{}`,
		`{"state":"done","maxItems":0.5}`,
	} {
		e := requireQueryError(t, b.request(t, events.APICommands, body), events.CodeInvalidArgument)
		require.Contains(t, e.Message, events.APICommands, body)
	}
}

// TestCommandsScanBound: a request reads at most MaxCommandsScan records,
// so failures behind many successes come a few pages later, after pages
// that are empty but truncated.
func TestCommandsScanBound(t *testing.T) {
	t.Parallel()
	b := setupQueries(t, queryOpts{})
	ledgerRecord(t, b.Store, "old-failure", events.SubjectCreate, store.StatusDone, false)
	n := queries.MaxCommandsScan + 200
	for i := range n {
		ledgerRecord(t, b.Store, fmt.Sprintf("ok-%05d", i), events.SubjectCreate, store.StatusDone, true)
	}
	first := b.commandsPage(t, events.CommandsRequest{State: events.CommandFailed})
	require.Empty(t, first.Items)
	require.True(t, first.Pagination.IsTruncated, "the first request stops after %d records", queries.MaxCommandsScan)
	ids, pages := b.commandIDs(t, events.CommandsRequest{State: events.CommandFailed})
	require.Equal(t, []string{"old-failure"}, ids)
	require.Equal(t, 2, pages)

	// Pages of done records are full while more follow.
	done, pages := b.commandIDs(t, events.CommandsRequest{State: events.CommandDone, MaxItems: 100})
	require.Len(t, done, n)
	require.Equal(t, 12, pages)
	require.Equal(t, fmt.Sprintf("ok-%05d", n-1), done[0])
}
