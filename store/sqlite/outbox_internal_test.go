package sqlite

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/store"
)

func TestOutboxRoundTrip(t *testing.T) {
	result := []byte(`{"commandId":"c-1","ok":true}`)
	msgs := []store.OutMsg{
		{Subject: "rooms.results.c-1", MsgID: "result:c-1", Data: result},
		{Subject: "rooms.events.created", MsgID: "c-1:created:R", Headers: map[string]string{"b": "2", "a": "1"}, Data: []byte(`{"x":1}`)},
		{Subject: "rooms.dead.create", MsgID: "dead:c-1", Data: []byte("not json \x00\xff")},
		{Subject: "rooms.cmd.delete", MsgID: "expire-R"},
	}
	enc := encodeOutbox(msgs, result).([]byte)
	got, err := decodeOutbox(enc, result)
	require.NoError(t, err)
	require.Len(t, got, len(msgs))
	for i := range msgs {
		require.Equal(t, msgs[i].Subject, got[i].Subject)
		require.Equal(t, msgs[i].MsgID, got[i].MsgID)
		require.Equal(t, string(msgs[i].Data), string(got[i].Data), "body of message %d", i)
		if len(msgs[i].Headers) == 0 {
			require.Empty(t, got[i].Headers)
		} else {
			require.Equal(t, msgs[i].Headers, got[i].Headers)
		}
	}

	// The result's body is not stored in the outbox: it is the record's
	// result column.
	require.Equal(t, 0, countSub(enc, result[:10]), "the result body is stored in the outbox")
	_, err = decodeOutbox(enc, nil)
	require.NoError(t, err)

	require.Nil(t, encodeOutbox(nil, result))
}

func countSub(b, sub []byte) int {
	n := 0
	for i := 0; i+len(sub) <= len(b); i++ {
		if string(b[i:i+len(sub)]) == string(sub) {
			n++
		}
	}
	return n
}

// TestOutboxLegacyJSON: records written before the binary form still read.
func TestOutboxLegacyJSON(t *testing.T) {
	rows := []outMsg{
		{Subject: "a", MsgID: "1", Bytes: []byte("raw \x00 bytes")},
		{Subject: "b", MsgID: "2", Data: json.RawMessage(`{"inline":true}`), Headers: map[string]string{"k": "v"}},
	}
	b, err := json.Marshal(rows)
	require.NoError(t, err)
	got, err := decodeOutbox(b, nil)
	require.NoError(t, err)
	require.Equal(t, "raw \x00 bytes", string(got[0].Data))
	require.JSONEq(t, `{"inline":true}`, string(got[1].Data))
	require.Equal(t, "v", got[1].Headers["k"])
}

func TestOutboxMalformed(t *testing.T) {
	good := encodeOutbox([]store.OutMsg{{Subject: "s", MsgID: "m", Headers: map[string]string{"k": "v"}, Data: []byte("body")}}, nil).([]byte)
	for i := 1; i < len(good); i++ {
		_, err := decodeOutbox(good[:i], nil)
		require.Error(t, err, "truncated at %d", i)
	}
	_, err := decodeOutbox(append(append([]byte{}, good...), 0), nil)
	require.Error(t, err, "trailing byte")
	_, err = decodeOutbox([]byte{outboxV1, 0xff, 0xff, 0xff, 0xff, 0x0f}, nil)
	require.Error(t, err, "absurd count")
}

// FuzzDecodeOutbox: any bytes decode to messages or an error, never a
// panic; what decodes re-encodes to the same messages.
func FuzzDecodeOutbox(f *testing.F) {
	f.Add(encodeOutbox([]store.OutMsg{{Subject: "s", MsgID: "m", Headers: map[string]string{"k": "v"}, Data: []byte("r")}}, []byte("r")).([]byte), []byte("r"))
	f.Add([]byte(`[{"subject":"a","msgId":"1","bytes":"eA=="}]`), []byte(nil))
	f.Fuzz(func(t *testing.T, b, result []byte) {
		msgs, err := decodeOutbox(b, result)
		if err != nil || len(msgs) == 0 {
			return
		}
		again, err := decodeOutbox(encodeOutbox(msgs, result).([]byte), result)
		require.NoError(t, err)
		require.Len(t, again, len(msgs))
		for i := range msgs {
			require.Equal(t, string(msgs[i].Data), string(again[i].Data))
			require.Equal(t, msgs[i].Subject, again[i].Subject)
		}
	})
}
