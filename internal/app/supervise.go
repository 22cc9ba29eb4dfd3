package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/natsapi"
	"github.com/roomkeeper/roomkeeper/workers"
)

// consumerCheckInterval is how often a worker process checks that the
// workers consumers it pulls from still exist and are the ones it started
// on.
const consumerCheckInterval = time.Second

// superviseWorker runs w until ctx ends. Every consumerCheckInterval it
// checks the workers consumers: one that is missing (deleted by an
// operator or a client) is recreated from the topology, and when one is
// not the consumer the worker started on (recreated here or by another
// process) the worker is restarted on it, having finished what it held, as
// its pulls on the old one ended with it. A worker that stops by itself is
// restarted too.
func (a *App) superviseWorker(ctx context.Context, w *workers.Worker) error {
	log := a.log.WithField("role", "worker")
	down := func(why string) { a.workerDown.Store(&why) }
	tick := time.NewTicker(consumerCheckInterval)
	defer tick.Stop()
	for {
		ids, err := a.ensureConsumers(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			down("worker not started: " + err.Error())
			log.WithError(err).Warn("workers consumers unavailable; trying again")
			select {
			case <-ctx.Done():
				return nil
			case <-tick.C:
				continue
			}
		}
		wctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- w.Run(wctx) }()
		a.workerDown.Store(nil)
		why, byItself := a.watchConsumers(ctx, ids, done, tick.C)
		stop()
		if why == "" { // ctx ended
			err := <-done
			if errors.Is(err, context.Canceled) {
				// Stopped while still looking its consumers up (after
				// an outage, say): nothing was taken.
				return nil
			}
			return err
		}
		down(why)
		log.WithField("reason", why).Error("restarting the worker")
		if err := <-done; err != nil {
			log.WithError(err).Warn("worker stopped with an error")
		}
		if byItself { // not at once: it may stop again
			select {
			case <-ctx.Done():
				return nil
			case <-tick.C:
			}
		}
	}
}

// watchConsumers returns when ctx ends (""), the worker stops by itself
// (byItself), or a workers consumer is missing or not one of ids (why).
func (a *App) watchConsumers(ctx context.Context, ids map[string]time.Time, done chan error, tick <-chan time.Time) (why string, byItself bool) {
	for {
		select {
		case <-ctx.Done():
			return "", false
		case err := <-done:
			done <- err // for the caller
			if ctx.Err() != nil {
				return "", false
			}
			return fmt.Sprintf("worker stopped by itself (%v)", err), true
		case <-tick:
			cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			now, err := a.consumerIDs(cctx)
			cancel()
			switch {
			case errors.Is(err, natsapi.ErrMissing):
				return err.Error(), false
			case err != nil:
				// NATS unreachable: the pulls resume with it, and
				// readiness says it is not connected meanwhile.
				continue
			}
			for s, created := range ids {
				if !now[s].Equal(created) {
					return fmt.Sprintf("consumer %s/%s was recreated", s, events.ConsumerWorkers), false
				}
			}
		}
	}
}

// ensureConsumers recreates the workers consumers that are missing and
// returns the creation time of each, which tells one consumer from a
// later one of the same name.
func (a *App) ensureConsumers(ctx context.Context) (map[string]time.Time, error) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	created, err := natsapi.EnsureConsumers(cctx, a.js, a.top)
	for _, s := range created {
		a.log.WithField("stream", s).WithField("consumer", events.ConsumerWorkers).Warn("workers consumer was missing: recreated")
	}
	if err != nil {
		return nil, err
	}
	return a.consumerIDs(cctx)
}

// consumerIDs returns the creation time of the workers consumer of each
// consumed stream; an error wrapping natsapi.ErrMissing names one missing.
func (a *App) consumerIDs(ctx context.Context) (map[string]time.Time, error) {
	ids := make(map[string]time.Time, len(events.ConsumedStreams))
	for _, s := range events.ConsumedStreams {
		c, err := a.js.Consumer(ctx, s, events.ConsumerWorkers)
		if errors.Is(err, jetstream.ErrConsumerNotFound) {
			return nil, fmt.Errorf("%w: consumer %s/%s", natsapi.ErrMissing, s, events.ConsumerWorkers)
		}
		if err != nil {
			return nil, err
		}
		ids[s] = c.CachedInfo().Created
	}
	return ids, nil
}
