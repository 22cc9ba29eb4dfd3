package webhooks_test

import (
	"net/http"
	"os"

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
