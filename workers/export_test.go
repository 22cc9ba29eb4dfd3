package workers

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
