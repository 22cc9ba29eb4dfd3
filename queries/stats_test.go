package queries_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/internal/workertest"
	"github.com/roomkeeper/roomkeeper/queries"
)

// serviceStats reads the service's $SRV.STATS (one instance) by endpoint.
func (b *bundle) serviceStats(t *testing.T) map[string]*micro.EndpointStats {
	t.Helper()
	msg, err := b.NC.Request("$SRV.STATS."+events.ServiceName, nil, 5*time.Second)
	require.NoError(t, err)
	var stats micro.Stats
	require.NoError(t, json.Unmarshal(msg.Data, &stats))
	out := map[string]*micro.EndpointStats{}
	for _, e := range stats.Endpoints {
		out[e.Name] = e
	}
	return out
}

// TestStatsCountErrors: failed queries are replied through the micro error
// API, so `nats micro stats roomkeeper` counts them in its standard
// columns (num_errors, last_error), the JSON error body and the headers
// of the contract unchanged.
func TestStatsCountErrors(t *testing.T) {
	t.Parallel()
	b := setupQueries(t, queryOpts{})
	_ = requireQueryError(t, b.request(t, events.APIGet, `{"roomId":"Nope-000000000000000"}`), events.CodeNotFound)
	_ = requireQueryError(t, b.request(t, events.APIList, `{"maxItems":0}`), events.CodeInvalidArgument)
	requireReply(t, events.APIList, b.request(t, events.APIList, `{}`), nil)

	stats := b.serviceStats(t)
	get, list := stats["get"], stats["list"]
	require.Equal(t, 1, get.NumRequests)
	require.Equal(t, 1, get.NumErrors)
	require.Equal(t, "404:Room 'Nope-000000000000000' does not exist", get.LastError)
	require.Equal(t, 2, list.NumRequests)
	require.Equal(t, 1, list.NumErrors)
	require.Regexp(t, `^422:invalid rooms\.api\.list request`, list.LastError)
	require.Zero(t, stats["config"].NumErrors)
}

// TestLateReply: a request slower than ReplyWait no longer holds its
// endpoint: the next one is taken meanwhile; the slow one still gets its
// whole reply, here an error with the contract's headers and body, and
// the endpoint's stats data counts it.
func TestLateReply(t *testing.T) {
	t.Parallel()
	b := &bundle{workertest.Setup(t, workertest.SetupOpts{})}
	slow := &slowTokens{release: make(chan struct{})}
	q, err := queries.New(queries.Config{Store: b.Store, Tokens: slow, Log: b.Log, ReplyWait: 10 * time.Millisecond, Timeout: 2 * time.Second})
	require.NoError(t, err)
	_, err = q.Start(b.NC)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, q.Close()) })
	ctx := ctxT(t, 30*time.Second)
	room := insertRoom(ctx, t, b.Store, "Late-000000000000001")

	body := `{"roomId":"` + room.RoomID + `","secret":"` + room.ModeratorSecret + `","participantName":"x"}`
	late := make(chan *nats.Msg, 1)
	go func() {
		m, _ := b.NC.RequestWithContext(ctx, events.APIParticipantToken, []byte(body))
		late <- m
	}()
	require.Eventually(t, slow.waiting, 10*time.Second, 5*time.Millisecond)
	// LiveKit hangs (until the 2s timeout): the same endpoint answers
	// another request meanwhile.
	start := time.Now()
	_ = requireQueryError(t, b.request(t, events.APIParticipantToken, `{"roomId":"Nope-000000000000000","secret":"s","participantName":"x"}`), events.CodeNotFound)
	require.Less(t, time.Since(start), time.Second)
	msg := <-late
	require.NotNil(t, msg)
	_ = requireQueryError(t, msg, events.CodeUnavailable)

	stats := b.serviceStats(t)["participant_token"]
	require.Equal(t, 1, stats.NumErrors, "the reply in time is counted by micro")
	var data queries.EndpointStats
	require.NoError(t, json.Unmarshal(stats.Data, &data))
	require.EqualValues(t, 2, data.Requests)
	require.Equal(t, map[string]int64{events.CodeNotFound: 1, events.CodeUnavailable: 1}, data.Errors, "the data counts both")
	close(slow.release)
}
