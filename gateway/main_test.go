package gateway_test

import (
	"testing"

	lktest "github.com/roomkeeper/roomkeeper/internal/testenv/livekit"
)

// TestMain fails the package's tests if a goroutine they started is still
// running when they end (see VerifyTestMain).
func TestMain(m *testing.M) {
	lktest.VerifyTestMain(m)
}
