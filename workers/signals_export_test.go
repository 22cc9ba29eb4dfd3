package workers

import (
	"context"

	"github.com/sirupsen/logrus"
)

// SignalMarked exposes signalMarkedLog to the tests.
func (r *Rooms) SignalMarked(ctx context.Context, roomID string) {
	r.signalMarkedLog(ctx, logrus.StandardLogger(), roomID)
}
