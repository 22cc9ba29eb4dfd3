package natsapi

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/roomkeeper/roomkeeper/events"
)

// Topology describes the streams and consumers every role makes sure exist
// at start. The zero value is not valid; start from [DefaultTopology].
type Topology struct {
	// Replicas of every stream: 1 on a single server, 3 on a cluster.
	Replicas int
	// Duplicates is the duplicates window of the streams that take
	// Nats-Msg-Id deduplicated publishes. It must be longer than the longest
	// redelivery delay (AckWait plus the largest nak delay).
	Duplicates time.Duration
	// AckWait is how long a worker may hold a message before JetStream
	// redelivers it.
	AckWait time.Duration
	// MaxDeliver bounds redeliveries; the last delivery of a failing message
	// is dead-lettered by the worker.
	MaxDeliver int
	// MaxAckPending bounds messages in flight across all workers.
	MaxAckPending int
	// Storage of the streams.
	Storage jetstream.StorageType
}

// DefaultTopology is the topology of the contract with its default limits.
func DefaultTopology() Topology {
	return Topology{
		Replicas:      1,
		Duplicates:    10 * time.Minute,
		AckWait:       30 * time.Second,
		MaxDeliver:    10,
		MaxAckPending: 1024,
		Storage:       jetstream.FileStorage,
	}
}

// Validate reports whether the topology can be applied.
func (t Topology) Validate() error {
	switch {
	case t.Replicas < 1 || t.Replicas > 5:
		return fmt.Errorf("%w: stream replicas %d not in 1..5", ErrConfig, t.Replicas)
	case t.Duplicates <= 0:
		return fmt.Errorf("%w: duplicates window must be positive", ErrConfig)
	case t.AckWait <= 0:
		return fmt.Errorf("%w: ack wait must be positive", ErrConfig)
	case t.MaxDeliver < 2:
		return fmt.Errorf("%w: max deliver must be at least 2", ErrConfig)
	case t.MaxAckPending < 1:
		return fmt.Errorf("%w: max ack pending must be positive", ErrConfig)
	}
	return nil
}

// Streams returns the configuration of the five streams.
func (t Topology) Streams() []jetstream.StreamConfig {
	return []jetstream.StreamConfig{
		{
			Name:        events.StreamCommands,
			Description: "roomkeeper commands, consumed once by the workers",
			Subjects:    []string{events.CommandPrefix + ">"},
			Retention:   jetstream.WorkQueuePolicy,
			Duplicates:  t.Duplicates,
			Storage:     t.Storage,
			Replicas:    t.Replicas,
		},
		{
			Name:        events.StreamWebhooks,
			Description: "verified LiveKit webhook events",
			Subjects:    []string{events.WebhookPrefix + ">"},
			Retention:   jetstream.LimitsPolicy,
			MaxAge:      7 * 24 * time.Hour,
			Duplicates:  t.Duplicates,
			Storage:     t.Storage,
			Replicas:    t.Replicas,
		},
		{
			Name:              events.StreamResults,
			Description:       "one result per command, by command ID",
			Subjects:          []string{events.ResultPrefix + ">"},
			Retention:         jetstream.LimitsPolicy,
			MaxMsgsPerSubject: 1,
			MaxAge:            24 * time.Hour,
			Duplicates:        t.Duplicates,
			Storage:           t.Storage,
			Replicas:          t.Replicas,
		},
		{
			Name:        events.StreamEvents,
			Description: "roomkeeper domain events (CloudEvents 1.0)",
			Subjects:    []string{events.EventPrefix + ">"},
			Retention:   jetstream.LimitsPolicy,
			MaxAge:      7 * 24 * time.Hour,
			Duplicates:  t.Duplicates,
			Storage:     t.Storage,
			Replicas:    t.Replicas,
		},
		{
			Name:        events.StreamDead,
			Description: "dead letters: commands and events that could not be applied",
			Subjects:    []string{events.DeadPrefix + ">"},
			Retention:   jetstream.LimitsPolicy,
			MaxAge:      30 * 24 * time.Hour,
			Duplicates:  t.Duplicates,
			Storage:     t.Storage,
			Replicas:    t.Replicas,
		},
	}
}

// Consumer returns the configuration of the durable workers consumer on
// stream (ROOMS_COMMANDS or LIVEKIT_WEBHOOKS).
func (t Topology) Consumer(stream string) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       events.ConsumerWorkers,
		Description:   "roomkeeper workers on " + stream,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       t.AckWait,
		MaxDeliver:    t.MaxDeliver,
		MaxAckPending: t.MaxAckPending,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		Replicas:      t.Replicas,
	}
}

// Bootstrap creates or updates the streams and the workers consumers. It is
// idempotent and safe to run from many processes at once.
func Bootstrap(ctx context.Context, js jetstream.JetStream, t Topology) error {
	if err := t.Validate(); err != nil {
		return err
	}
	for _, cfg := range t.Streams() {
		if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
			return fmt.Errorf("bootstrap stream %s: %w", cfg.Name, err)
		}
	}
	for _, s := range events.ConsumedStreams {
		if _, err := js.CreateOrUpdateConsumer(ctx, s, t.Consumer(s)); err != nil {
			return fmt.Errorf("bootstrap consumer %s/%s: %w", s, events.ConsumerWorkers, err)
		}
	}
	return nil
}

// CheckConsumers reports an error naming the first workers consumer of the
// consumed streams that is missing: without it no message reaches any
// worker.
func CheckConsumers(ctx context.Context, js jetstream.JetStream) error {
	for _, s := range events.ConsumedStreams {
		if _, err := js.Consumer(ctx, s, events.ConsumerWorkers); err != nil {
			if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
				return fmt.Errorf("%w: consumer %s/%s", ErrMissing, s, events.ConsumerWorkers)
			}
			return fmt.Errorf("consumer %s/%s: %w", s, events.ConsumerWorkers, err)
		}
	}
	return nil
}

// EnsureConsumers creates the workers consumers of the consumed streams
// that are missing (deleted by an operator or a client, say) with the
// topology t, and returns the streams whose consumer it created. Like
// Bootstrap it is safe to run from many processes at once.
func EnsureConsumers(ctx context.Context, js jetstream.JetStream, t Topology) (created []string, err error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	for _, s := range events.ConsumedStreams {
		_, err := js.Consumer(ctx, s, events.ConsumerWorkers)
		if err == nil {
			continue
		}
		if !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return created, fmt.Errorf("consumer %s/%s: %w", s, events.ConsumerWorkers, err)
		}
		if _, err := js.CreateOrUpdateConsumer(ctx, s, t.Consumer(s)); err != nil {
			return created, fmt.Errorf("recreate consumer %s/%s: %w", s, events.ConsumerWorkers, err)
		}
		created = append(created, s)
	}
	return created, nil
}

// CheckTopology reports an error naming the first stream or workers
// consumer that is missing: CheckStreams, then CheckConsumers.
func CheckTopology(ctx context.Context, js jetstream.JetStream) error {
	if err := CheckStreams(ctx, js); err != nil {
		return err
	}
	return CheckConsumers(ctx, js)
}

// CheckStreams reports an error naming the first stream that is missing.
func CheckStreams(ctx context.Context, js jetstream.JetStream) error {
	for _, cfg := range DefaultTopology().Streams() {
		if _, err := js.Stream(ctx, cfg.Name); err != nil {
			if errors.Is(err, jetstream.ErrStreamNotFound) {
				return fmt.Errorf("%w: stream %s", ErrMissing, cfg.Name)
			}
			return fmt.Errorf("stream %s: %w", cfg.Name, err)
		}
	}
	return nil
}
