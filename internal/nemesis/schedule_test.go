package nemesis

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A seed replays its schedule; another seed draws another one.
func TestScheduleReplays(t *testing.T) {
	c := ScheduleConfig{Duration: 5 * time.Minute}
	a, b := NewSchedule(42, c), NewSchedule(42, c)
	require.Equal(t, a, b)
	require.NotEqual(t, a, NewSchedule(43, c))
	require.Greater(t, len(a), 20, "a 5-minute run draws faults every few seconds")
	kinds := map[FaultKind]bool{}
	for i, f := range a {
		kinds[f.Kind] = true
		require.GreaterOrEqual(t, f.At, 5*time.Second, "after the warmup")
		require.LessOrEqual(t, f.At, c.Duration-5*time.Second, "before the cooldown")
		if i > 0 {
			require.GreaterOrEqual(t, f.At, a[i-1].At, "sorted")
		}
		switch f.Kind {
		case StopWorker, StopScheduler:
			require.Greater(t, f.Pause, 30*time.Second, "stopped longer than AckWait")
		case KillWorker, KillNATS:
			require.Positive(t, f.Pause)
		}
	}
	require.Len(t, kinds, len(faultWeights), "every kind drawn in 5 minutes: %s", CountByKind(a))
}

func TestCountByKind(t *testing.T) {
	require.Equal(t, "none", CountByKind(nil))
	require.Equal(t, "kill-worker 2, kill-nats 1",
		CountByKind([]Fault{{Kind: KillNATS}, {Kind: KillWorker}, {Kind: KillWorker}}))
}
