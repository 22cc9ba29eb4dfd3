package apispectest_test

import (
	"context"
	"fmt"
	"net/http"

	"github.com/roomkeeper/roomkeeper/apispec/apispectest"
)

// A webhook receiver in a test checks each delivery (ValidateWebhook reports
// with t.Errorf; CheckWebhook returns the mismatch).
func ExampleCheckWebhook() {
	body := []byte(`{"creationDate":1620000000000,"event":"meetingEnded","data":{"roomId":"room-123","status":"open"}}`)
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("X-Timestamp", "1620000000000")
	fmt.Println(apispectest.CheckWebhook(context.Background(), "meetingEnded", h, body) != nil)
	h.Set("X-Signature", "5d1c0e1a4c1b6f2f1e9e6c3d2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a")
	fmt.Println(apispectest.CheckWebhook(context.Background(), "meetingEnded", h, body))
	// Output:
	// true
	// <nil>
}
