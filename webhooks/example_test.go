package webhooks_test

import (
	"bytes"
	"net/http"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/sirupsen/logrus"

	"github.com/roomkeeper/roomkeeper/webhooks"
)

// Wiring the receiver into the HTTP server of the webhooks role. The NATS
// connection has no reconnect buffer, so nothing published while it is
// down can land after the receiver answered 503.
func Example() {
	nc, err := nats.Connect(os.Getenv("NATS_URL"), nats.ReconnectBufSize(-1), nats.MaxReconnects(-1))
	if err != nil {
		logrus.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		logrus.Fatal(err)
	}
	rc, err := webhooks.New(webhooks.Config{
		APIKey:    os.Getenv("LIVEKIT_API_KEY"),
		APISecret: os.Getenv("LIVEKIT_API_SECRET"),
	}, js, logrus.StandardLogger())
	if err != nil {
		logrus.Fatal(err)
	}
	mux := http.NewServeMux()
	rc.Routes(mux) // POST /livekit/webhook
	logrus.Fatal(http.ListenAndServe(os.Getenv("HTTP_ADDR"), mux))
}

// Posting a webhook the way LiveKit does, to check the wiring of its
// webhook URL.
func ExampleSign() {
	body := []byte(`{"event":"room_started","id":"EV_wiring1","room":{"name":"Daily-3kq9x2m4p7a1b8c"}}`)
	authz, err := webhooks.Sign(os.Getenv("LIVEKIT_API_KEY"), os.Getenv("LIVEKIT_API_SECRET"), body, 5*time.Minute)
	if err != nil {
		logrus.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, "http://127.0.0.1:8080/livekit/webhook", bytes.NewReader(body))
	if err != nil {
		logrus.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/webhook+json")
	req.Header.Set("Authorization", authz)
	_ = req // http.DefaultClient.Do(req): 200 once JetStream stored the event
}
