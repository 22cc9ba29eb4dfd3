package outhooks_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/outhooks"
)

// The body is what JavaScript's JSON.stringify writes for the parsed body:
// receivers written for OpenVidu Meet verify the signature over
// JSON.stringify(req.body) (upstream signs JSON.stringify of the payload,
// and its webhook guide verifies the same way), so a room named "Q&A"
// must not reach them as "Q\u0026A".
func TestBodyIsWhatJSONStringifyWrites(t *testing.T) {
	t.Parallel()
	at := time.UnixMilli(1764004700000)
	room := events.Room{RoomID: "q_a-aaaaaaaaaaaaaaa", RoomName: "Q&A <weekly> \u2028\u2029 \"é\" \\ \t\x01"}
	ev, err := events.NewEvent("lk:EV_1", events.EventMeetingStarted, room.RoomID, at, room)
	require.NoError(t, err)
	p, err := outhooks.PayloadOf(ev)
	require.NoError(t, err)
	body, err := p.Body()
	require.NoError(t, err)
	require.Contains(t, string(body), `"roomName":"Q&A <weekly> `+"\u2028\u2029"+` \"é\" \\ \t\u0001"`)
	require.True(t, strings.HasPrefix(string(body), `{"event":"meetingStarted","creationDate":1764004700000,"data":{"roomId":"q_a-aaaaaaaaaaaaaaa",`), "%s", body)
	var got, want any
	require.NoError(t, json.Unmarshal(body, &got))
	raw, err := json.Marshal(p)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &want))
	require.Equal(t, want, got, "the same document")

	rec := events.Recording{RecordingID: "r--EG_1", EgressID: "EG_1", RoomID: "r", RoomName: "R&D", Status: "complete", Details: "<done>"}
	ev, err = events.NewEvent("lk:EV_2", events.EventRecordingEnded, "r", at, rec)
	require.NoError(t, err)
	p, err = outhooks.PayloadOf(ev)
	require.NoError(t, err)
	body, err = p.Body()
	require.NoError(t, err)
	require.Contains(t, string(body), `"roomName":"R&D"`)
	require.Contains(t, string(body), `"details":"<done>"`)
}

// A receiver written as OpenVidu Meet's webhook guide shows (Node.js:
// express.json(), then the HMAC of `${x-timestamp}.${JSON.stringify(body)}`
// keyed with the API key, compared in constant time) accepts what the
// dispatcher sends, whatever the room's name. Skipped without node.
func TestUpstreamSnippetVerifiesTheSignature(t *testing.T) {
	t.Parallel()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed")
	}
	b := setup(t)
	r := newReceiver(t)
	b.start(t, outhooks.Config{Targets: []outhooks.Target{{URL: r.URL("/hook")}}})
	const id = "q_a-ggggggggggggggg"
	room := sampleRoom(id)
	room.RoomName = "Q&A <weekly> \u2028 ünïcode"
	b.publish(t, "lk:EV_1", events.EventMeetingStarted, id, room)
	require.Eventually(t, func() bool { return len(r.deliveries()) == 1 }, 20*time.Second, 20*time.Millisecond)
	d := r.deliveries()[0]

	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "body.json"), d.Body, 0o600))
	const snippet = `
const crypto = require("crypto");
const fs = require("fs");
const [secret, timestamp, signature, file] = process.argv.slice(1);
const body = JSON.parse(fs.readFileSync(file, "utf8")); // what express.json() gives
const signedPayload = timestamp + "." + JSON.stringify(body);
const expected = crypto.createHmac("sha256", secret).update(signedPayload, "utf8").digest("hex");
const ok = expected.length === signature.length &&
  crypto.timingSafeEqual(Buffer.from(expected, "hex"), Buffer.from(signature, "hex"));
process.stdout.write(ok ? "valid" : "invalid");
`
	ctx := t.Context()
	out, err := exec.CommandContext(ctx, node, "-e", snippet, secret, d.Timestamp, d.Signature, filepath.Join(dir, "body.json")).CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Equal(t, "valid", string(out), "body %s", d.Body)
}
