package scheduler_test

import (
	"context"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/internal/workertest"
	"github.com/roomkeeper/roomkeeper/scheduler"
)

// Sweeps with nothing to do, published by two schedulers and applied by a
// worker, log nothing at info level or above: an idle roomkeeper is quiet
// (the lines are there at debug level).
func TestIdleSweepsLogNothingAtInfo(t *testing.T) {
	t.Parallel()
	b := workertest.Setup(t, workertest.SetupOpts{})
	b.Log.SetLevel(logrus.DebugLevel)
	hook := logtest.NewLocal(b.Log)
	b.Start(t, workertest.WorkerOpts{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	for range 2 {
		s, err := scheduler.New(scheduler.Config{Interval: time.Second}, b.JS, b.Log)
		require.NoError(t, err)
		go func() {
			defer func() { done <- struct{}{} }()
			_ = s.Run(ctx)
		}()
	}
	first := time.Now().Truncate(time.Second).Add(time.Second)
	for i := range 2 {
		id := scheduler.SweepID(first.Add(time.Duration(i) * time.Second))
		res := b.Result(t, id)
		require.True(t, res.OK, "%+v", res.Error)
	}
	cancel()
	<-done
	<-done

	var debug int
	for _, e := range hook.AllEntries() {
		require.Greater(t, e.Level, logrus.InfoLevel, "an idle sweep logged at %s: %q %v", e.Level, e.Message, e.Data)
		debug++
	}
	require.NotZero(t, debug, "the sweeps are still logged at debug level")
}
