package app

import "context"

// startDispatcher starts the outgoing webhook dispatcher: the dispatcher
// role (issue 16).
func (a *App) startDispatcher(_ context.Context, _ func(string, func(context.Context) error)) error {
	a.log.Warn("the outgoing webhook dispatcher is not built yet")
	return nil
}
