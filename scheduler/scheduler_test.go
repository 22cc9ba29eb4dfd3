package scheduler_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/internal/workertest"
	"github.com/roomkeeper/roomkeeper/scheduler"
	"github.com/stretchr/testify/require"
)

// Three scheduler replicas over five intervals: five sweeps on the stream,
// one per interval (run without workers, so the work-queue stream keeps
// them).
func TestSchedulerReplicasPublishOneSweepPerInterval(t *testing.T) {
	t.Parallel()
	b := workertest.Setup(t, workertest.SetupOpts{})
	// Start just after a boundary: the first sweep is the next one.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second + 100*time.Millisecond)))
	first := time.Now().Truncate(time.Second).Add(time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 3 {
		_, js := b.NATS.Connect(t) // a connection of its own, as a replica has
		s, err := scheduler.New(scheduler.Config{Interval: time.Second}, js, b.Log)
		require.NoError(t, err)
		wg.Go(func() {
			if err := s.Run(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	// Stop in the middle of the fifth interval.
	time.Sleep(time.Until(first.Add(4*time.Second + 600*time.Millisecond)))
	cancel()
	wg.Wait()

	s, err := b.JS.Stream(workertest.Ctx(t, 5*time.Second), events.StreamCommands)
	require.NoError(t, err)
	info, err := s.Info(workertest.Ctx(t, 5*time.Second))
	require.NoError(t, err)
	require.EqualValues(t, 5, info.State.Msgs)
	var ids []string
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(workertest.Ctx(t, 5*time.Second), seq)
		require.NoError(t, err)
		require.Equal(t, events.SubjectSweep, m.Subject)
		require.Equal(t, events.OriginScheduler, m.Header.Get(events.HeaderOrigin), "published as roomkeeper's own")
		ids = append(ids, m.Header.Get(nats.MsgIdHdr))
	}
	var want []string
	for i := range 5 {
		want = append(want, scheduler.SweepID(first.Add(time.Duration(i)*time.Second)))
	}
	require.Equal(t, want, ids)
}

// A scheduler's sweep, whose ID has the reserved prefix sweep-, is applied
// by the workers.
func TestSchedulerSweepIsApplied(t *testing.T) {
	t.Parallel()
	b := workertest.Setup(t, workertest.SetupOpts{})
	b.Start(t, workertest.WorkerOpts{})
	s, err := scheduler.New(scheduler.Config{Interval: time.Second}, b.JS, b.Log)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Run(ctx)
	}()
	t.Cleanup(func() { cancel(); <-done })
	next := scheduler.SweepID(time.Now().Truncate(time.Second).Add(time.Second))
	res := b.Result(t, next)
	require.True(t, res.OK, "%+v", res.Error)
}
