package workers

import "time"

// SetFault installs a hook called after each pipeline step ("claimed",
// "applied", "completed", "published"); an error from it stops the pipeline
// there as a crash would, with neither ack nor nak.
func (w *Worker) SetFault(f func(step, id string) bool) {
	w.fault = func(step, id string) error {
		if f(step, id) {
			return errCrash
		}
		return nil
	}
}

// DecodeForTest runs the registry's decoding path of subject on body as
// the pipeline does (JSON Schema, unmarshal, the handler's Validate); ok is
// false when no handler is registered for subject.
func (r *Registry) DecodeForTest(subject string, body []byte, now time.Time) (msg any, ok bool, err error) {
	rt := r.lookup(subject)
	if rt == nil {
		return nil, false, nil
	}
	msg, err = rt.decode(subject, body, now)
	return msg, true, err
}

// SetClock replaces the worker's clock (when it takes a message).
func (w *Worker) SetClock(now func() time.Time) { w.now = now }

// RoomIDs is the sanitised, deduplicated room ID list of a delete.
func RoomIDs(raw []string) []string { return roomIDs(raw) }
