package mongo

import "go.mongodb.org/mongo-driver/v2/event"

// WithHook returns cfg whose guarded completions call hook at each step
// (StepClaimed, StepWrite after each write, StepApplied); an error stops
// the completion there, as a crash would.
func WithHook(cfg Config, hook func(step string) error) Config {
	cfg.hook = hook
	return cfg
}

// WithMonitor returns cfg whose client reports every command to m.
func WithMonitor(cfg Config, m *event.CommandMonitor) Config {
	cfg.monitor = m
	return cfg
}

// HasTransactions exports hasTransactions.
var HasTransactions = hasTransactions

// Steps of a guarded completion.
const (
	StepClaimed = stepClaimed
	StepWrite   = stepWrite
	StepApplied = stepApplied
)
