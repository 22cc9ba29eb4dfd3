package app

import (
	"context"
	"fmt"

	"github.com/roomkeeper/roomkeeper/internal/config"
	"github.com/roomkeeper/roomkeeper/outhooks"
)

// ErrNoWebhookSecret: outgoing webhook URLs are set but there is nothing
// to sign them with (neither OUTGOING_WEBHOOK_SECRET nor an API key): an
// invalid configuration (config.ErrInvalid), so roomkeeper exits 2.
var ErrNoWebhookSecret = fmt.Errorf("%w: OUTGOING_WEBHOOK_URLS is set but there is no secret to sign with: set OUTGOING_WEBHOOK_SECRET, or API_KEYS / API_KEYS_FILE (the first API key is the default, as in OpenVidu Meet)", config.ErrInvalid)

// newDispatcher makes the outgoing webhook dispatcher of the dispatcher
// role (issue 16): nil without OUTGOING_WEBHOOK_URLS; ErrNoWebhookSecret
// without a secret (OUTGOING_WEBHOOK_SECRET, else the first API key).
func (a *App) newDispatcher() (*outhooks.Dispatcher, error) {
	log := a.log.WithField("role", "dispatcher")
	targets, err := outhooks.ParseTargets(a.cfg.OutgoingWebhookURLs)
	if err != nil {
		return nil, err
	}
	if len(targets) == 0 {
		log.Info("OUTGOING_WEBHOOK_URLS unset: the outgoing webhook dispatcher is off")
		return nil, nil
	}
	secret, secretFunc, err := a.webhookSecret()
	if err != nil {
		return nil, err
	}
	return outhooks.New(outhooks.Config{
		Targets: targets, Secret: secret, SecretFunc: secretFunc,
		Timeout:  a.cfg.OutgoingWebhookTimeout,
		RetryMin: a.cfg.OutgoingWebhookRetryMin, RetryMax: a.cfg.OutgoingWebhookRetryMax, Tries: a.cfg.OutgoingWebhookTries,
		Log: log, Metrics: a.metrics,
	}, a.js)
}

// startDispatcher starts the dispatcher Start made, if any: its consumers
// on ROOMS_EVENTS, one per target URL.
func (a *App) startDispatcher(ctx context.Context, run func(string, func(context.Context) error)) error {
	if a.hooks == nil {
		return nil
	}
	if err := a.hooks.Start(ctx); err != nil {
		return fmt.Errorf("outgoing webhooks: %w", err)
	}
	run("dispatcher", func(ctx context.Context) error { <-ctx.Done(); a.hooks.Wait(); return nil })
	return nil
}

// webhookSecret is OUTGOING_WEBHOOK_SECRET, else the first API key as it
// is at each try (API_KEYS_FILE may be rotated).
func (a *App) webhookSecret() (string, func() string, error) {
	if a.cfg.OutgoingWebhookSecret != "" {
		return a.cfg.OutgoingWebhookSecret, nil, nil
	}
	if a.keys == nil {
		return "", nil, ErrNoWebhookSecret
	}
	return "", a.keys.First, nil
}
