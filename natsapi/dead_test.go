package natsapi_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/internal/testenv"
	"github.com/roomkeeper/roomkeeper/natsapi"
)

func publishDead(t *testing.T, js jetstream.JetStream, subject, id, reason string, deliveries int, body string) uint64 {
	t.Helper()
	m := nats.NewMsg(events.DeadSubject(subject))
	m.Data = []byte(body)
	m.Header.Set(events.HeaderDeadSubject, subject)
	m.Header.Set(events.HeaderDeadCommandID, id)
	m.Header.Set(events.HeaderDeadReason, reason)
	m.Header.Set(events.HeaderDeadDeliveries, strconv.Itoa(deliveries))
	m.Header.Set(events.HeaderDeadStreamSequence, "7")
	ack, err := js.PublishMsg(context.Background(), m, jetstream.WithMsgID("dead:"+id))
	require.NoError(t, err)
	return ack.Sequence
}

func TestListAndReplayDead(t *testing.T) {
	t.Parallel()
	n := testenv.StartNATS(t)
	_, js := n.Bootstrap(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	none, err := natsapi.ListDead(ctx, js, 10)
	require.NoError(t, err)
	require.Empty(t, none)

	s1 := publishDead(t, js, events.SubjectCreate, "c1", "max deliveries exceeded", 10, `{"roomName":"x"}`)
	s2 := publishDead(t, js, "rooms.cmd.explode", "c2", "invalid_argument: unknown command type", 1, `{}`)
	s3 := publishDead(t, js, events.SubjectDelete, "c3", "invalid_argument: bad", 1, `{"roomIds": 5}`)
	publishDead(t, js, "", "c4", "no origin", 1, `{}`)

	all, err := natsapi.ListDead(ctx, js, 0)
	require.NoError(t, err)
	require.Len(t, all, 4)
	require.Equal(t, events.DeadLetter{
		Seq: s1, Subject: "rooms.dead.create", OriginalSubject: events.SubjectCreate, CommandID: "c1",
		Deliveries: 10, Reason: "max deliveries exceeded", OriginalSeq: 7, Time: all[0].Time, Data: []byte(`{"roomName":"x"}`),
	}, all[0])
	require.Equal(t, s2, all[1].Seq)
	require.Equal(t, "rooms.dead.explode", all[1].Subject)

	last2, err := natsapi.ListDead(ctx, js, 2)
	require.NoError(t, err)
	require.Len(t, last2, 2)
	require.Equal(t, s3, last2[0].Seq, "the last ones, oldest first")

	id, err := natsapi.ReplayDead(ctx, js, s1, "")
	require.NoError(t, err)
	require.Regexp(t, `^replay-1-[a-z0-9]+$`, id)
	require.True(t, events.ValidCommandID(id))
	id3, err := natsapi.ReplayDead(ctx, js, s3, "again-3")
	require.NoError(t, err)
	require.Equal(t, "again-3", id3)

	cmds, err := js.Stream(ctx, events.StreamCommands)
	require.NoError(t, err)
	m, err := cmds.GetLastMsgForSubject(ctx, events.SubjectCreate)
	require.NoError(t, err)
	require.Equal(t, `{"roomName":"x"}`, string(m.Data))
	require.Equal(t, id, m.Header.Get(nats.MsgIdHdr))
	m, err = cmds.GetLastMsgForSubject(ctx, events.SubjectDelete)
	require.NoError(t, err)
	require.Equal(t, "again-3", m.Header.Get(nats.MsgIdHdr))

	// The same replay ID twice inside the duplicates window publishes once.
	_, err = natsapi.ReplayDead(ctx, js, s3, "again-3")
	require.NoError(t, err)
	info, err := cmds.Info(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 2, info.State.Msgs)

	_, err = natsapi.ReplayDead(ctx, js, s1, "bad id!")
	require.ErrorIs(t, err, natsapi.ErrConfig)
	_, err = natsapi.ReplayDead(ctx, js, all[3].Seq, "")
	require.ErrorIs(t, err, natsapi.ErrNotReplayable)
	_, err = natsapi.ReplayDead(ctx, js, 999, "")
	require.ErrorIs(t, err, jetstream.ErrMsgNotFound)
}

func TestDeleteAndPurgeDead(t *testing.T) {
	t.Parallel()
	n := testenv.StartNATS(t)
	_, js := n.Bootstrap(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	purged, err := natsapi.PurgeDead(ctx, js)
	require.NoError(t, err)
	require.Zero(t, purged)
	var seqs []uint64
	for i := range 4 {
		seqs = append(seqs, publishDead(t, js, events.SubjectCreate, "d"+strconv.Itoa(i), "bad", 1, `{}`))
	}
	// A missing sequence (deleted, or past the last) is named; the others
	// are deleted.
	deleted, missing, err := natsapi.DeleteDead(ctx, js, seqs[1], 99, seqs[1])
	require.NoError(t, err)
	require.Equal(t, 1, deleted)
	require.Equal(t, []uint64{99, seqs[1]}, missing)
	left, err := natsapi.ListDead(ctx, js, 0)
	require.NoError(t, err)
	require.Len(t, left, 3)
	require.Equal(t, []uint64{seqs[0], seqs[2], seqs[3]}, []uint64{left[0].Seq, left[1].Seq, left[2].Seq})

	purged, err = natsapi.PurgeDead(ctx, js)
	require.NoError(t, err)
	require.EqualValues(t, 3, purged)
	left, err = natsapi.ListDead(ctx, js, 0)
	require.NoError(t, err)
	require.Empty(t, left)
	// A dead letter after the purge is kept, with the next sequence.
	next := publishDead(t, js, events.SubjectCreate, "after", "bad", 1, `{}`)
	require.Equal(t, seqs[3]+1, next)
}

func TestReplayDeadBody(t *testing.T) {
	t.Parallel()
	n := testenv.StartNATS(t)
	nc, js := n.Bootstrap(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	seq := publishDead(t, js, events.SubjectCreate, "c1", "bad", 1, `{"roomName":42}`)
	sub, err := nc.SubscribeSync(events.SubjectCreate)
	require.NoError(t, err)
	id, err := natsapi.ReplayDeadBody(ctx, js, seq, "fixed-1", []byte(`{"roomName":"fixed"}`))
	require.NoError(t, err)
	require.Equal(t, "fixed-1", id)
	msg, err := sub.NextMsg(5 * time.Second)
	require.NoError(t, err)
	require.JSONEq(t, `{"roomName":"fixed"}`, string(msg.Data))
	require.Equal(t, "fixed-1", msg.Header.Get(jetstream.MsgIDHeader))
	dead, err := natsapi.GetDead(ctx, js, seq)
	require.NoError(t, err)
	require.Equal(t, `{"roomName":42}`, string(dead.Data), "the dead letter stays as it was")
}
