package livekit

import (
	"fmt"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// LeakWait is how long VerifyTestMain gives goroutines to end.
const LeakWait = 30 * time.Second

// VerifyTestMain runs a package's tests and then fails them if a goroutine
// they started is still running, as goleak.VerifyTestMain does, but waits
// up to LeakWait for goroutines to end first: participants joined with
// LiveKit's Go SDK close their WebRTC stack (pion's ICE agents and mDNS
// listeners) in the background after they disconnect, for longer than
// goleak's own retries. A goroutine still there after LeakWait is a leak.
func VerifyTestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		err := goleak.Find()
		for deadline := time.Now().Add(LeakWait); err != nil && time.Now().Before(deadline); {
			time.Sleep(250 * time.Millisecond)
			err = goleak.Find()
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}
