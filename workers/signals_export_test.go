package workers

import "context"

// SignalMarked exposes signalMarked to the tests.
func (r *Rooms) SignalMarked(ctx context.Context, roomID string) { r.signalMarked(ctx, roomID) }
