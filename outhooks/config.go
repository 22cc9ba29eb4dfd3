package outhooks

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/roomkeeper/roomkeeper/events"
)

// Upstream's webhook event names (MeetWebhookEventType).
const (
	MeetingStarted   = "meetingStarted"
	MeetingEnded     = "meetingEnded"
	RecordingStarted = "recordingStarted"
	RecordingUpdated = "recordingUpdated"
	RecordingEnded   = "recordingEnded"
)

// EventTypes maps each upstream webhook event to the domain event type it
// is sent for.
var EventTypes = map[string]string{
	MeetingStarted:   events.EventMeetingStarted,
	MeetingEnded:     events.EventMeetingEnded,
	RecordingStarted: events.EventRecordingStarted,
	RecordingUpdated: events.EventRecordingUpdated,
	RecordingEnded:   events.EventRecordingEnded,
}

// Events are the upstream webhook events, in upstream's order.
var Events = []string{RecordingStarted, RecordingUpdated, RecordingEnded, MeetingStarted, MeetingEnded}

// webhookEvent is the upstream event sent for a domain event type; "" for
// none.
func webhookEvent(eventType string) string {
	for name, t := range EventTypes {
		if t == eventType {
			return name
		}
	}
	return ""
}

// Target is one receiver: its URL and the events it wants (all when
// Events is empty).
type Target struct {
	URL    string
	Events []string
}

// Wants reports whether t wants the upstream event name.
func (t Target) Wants(name string) bool { return len(t.Events) == 0 || slices.Contains(t.Events, name) }

// Redacted is t's URL as logs, the consumer's description and dead letters
// show it: a password in it and the values of its query (often a token)
// replaced by "xxxxx".
func (t Target) Redacted() string {
	u, err := url.Parse(t.URL)
	if err != nil {
		return "(unparsable URL)"
	}
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			q[k] = []string{"xxxxx"}
		}
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// redact replaces t's URL in s (an error from the HTTP client quotes it)
// by its redacted form.
func (t Target) redact(s string) string {
	r := t.Redacted()
	if r == t.URL {
		return s
	}
	s = strings.ReplaceAll(s, t.URL, r)
	if u, err := url.Parse(t.URL); err == nil && u.User != nil {
		// net/http quotes the URL with its password as "***".
		if _, ok := u.User.Password(); ok {
			s = strings.ReplaceAll(s, strings.Replace(u.String(), u.User.String()+"@", u.User.Username()+":***@", 1), r)
		}
	}
	return s
}

// Consumer is the name of t's durable consumer on ROOMS_EVENTS:
// "outhook_" and the first 16 hex digits of the SHA-256 of its URL.
func (t Target) Consumer() string {
	sum := sha256.Sum256([]byte(t.URL))
	return "outhook_" + hex.EncodeToString(sum[:8])
}

// Subjects are the domain event subjects t's consumer takes.
func (t Target) Subjects() []string {
	names := t.Events
	if len(names) == 0 {
		names = Events
	}
	out := make([]string, 0, len(names))
	for _, n := range names {
		out = append(out, events.EventSubject(EventTypes[n]))
	}
	return out
}

// ParseTargets parses OUTGOING_WEBHOOK_URLS: comma-separated URLs, each
// optionally followed by "|" and the comma-separated upstream events it
// wants: "https://a/hook,https://b/hook|meetingStarted,meetingEnded" sends
// every event to a and only the meeting events to b. An item without
// "://" continues the event list of the URL before it. An unknown event
// name, a URL that is not absolute http(s), or a URL given twice is an
// ErrConfig.
func ParseTargets(s string) ([]Target, error) {
	var out []Target
	filtering := false
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		var ev string
		if u, e, ok := strings.Cut(item, "|"); ok {
			item, ev = strings.TrimSpace(u), strings.TrimSpace(e)
		} else if !strings.Contains(item, "://") {
			if !filtering {
				return nil, fmt.Errorf("%w: %q is neither a URL nor an event after a URL's '|'", ErrConfig, item)
			}
			ev, item = item, ""
		}
		if item != "" {
			u, err := url.Parse(item)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return nil, fmt.Errorf("%w: outgoing webhook URL %q must be an absolute http or https URL", ErrConfig, item)
			}
			for _, t := range out {
				if t.URL == item {
					return nil, fmt.Errorf("%w: outgoing webhook URL %q given twice", ErrConfig, item)
				}
			}
			out = append(out, Target{URL: item})
			filtering = ev != ""
			if !filtering && strings.Contains(item, "|") {
				return nil, fmt.Errorf("%w: %q has an empty event filter", ErrConfig, item)
			}
		}
		if ev != "" {
			if _, ok := EventTypes[ev]; !ok {
				return nil, fmt.Errorf("%w: unknown webhook event %q (known: %s)", ErrConfig, ev, strings.Join(Events, ", "))
			}
			last := &out[len(out)-1]
			if !slices.Contains(last.Events, ev) {
				last.Events = append(last.Events, ev)
			}
		}
	}
	return out, nil
}

// Metrics observes deliveries (internal/metrics implements it): one call
// per delivery of an event to a target, with the upstream event name, the
// outcome (one of Outcomes) and how long the POST took.
type Metrics interface {
	Delivered(event, outcome string, took time.Duration)
}

// Delivery outcomes, the `outcome` label of the delivery metrics.
const (
	// OutcomeDelivered: the receiver answered 2xx; the event is acked.
	OutcomeDelivered = "delivered"
	// OutcomeRetry: a network error, a timeout, 5xx, 408 or 429; the event
	// is nakked with the next backoff delay.
	OutcomeRetry = "retry"
	// OutcomeRejected: another status (4xx, 3xx): given up at once, dead
	// letter.
	OutcomeRejected = "rejected"
	// OutcomeExhausted: a retryable failure on the last try: dead letter.
	OutcomeExhausted = "exhausted"
	// OutcomeMalformed: a domain event that makes no webhook: dead letter.
	OutcomeMalformed = "malformed"
	// OutcomeInterrupted: the dispatcher stopped during the POST; the
	// event is nakked for the next dispatcher.
	OutcomeInterrupted = "interrupted"
)

// Outcomes are the delivery outcomes, for metrics.Config.
var Outcomes = []string{OutcomeDelivered, OutcomeRetry, OutcomeRejected, OutcomeExhausted, OutcomeMalformed, OutcomeInterrupted}

// Config configures a Dispatcher.
type Config struct {
	// Targets are the receivers (ParseTargets); none is a config error.
	Targets []Target
	// Secret keys the X-Signature HMAC (upstream: the first API key).
	Secret string
	// SecretFunc, when set, gives the secret at each try instead of
	// Secret: the first API key of a keys file that may be rotated.
	SecretFunc func() string
	// Timeout bounds one POST (default 10s; upstream 5s).
	Timeout time.Duration
	// RetryMin is the delay after the first failed try, doubled after
	// each further one up to RetryMax (defaults 1s and 5m); Tries is how
	// many deliveries are made before an event is given up (default 15:
	// with the default delays, about 33 minutes of retries).
	RetryMin time.Duration
	RetryMax time.Duration
	Tries    int
	// AckWait is the consumers' AckWait: how long a delivery may stay
	// unanswered before JetStream redelivers it (a dispatcher that died
	// mid-delivery); default 2×Timeout + 10s. The dispatcher marks a
	// delivery in progress before its POST.
	AckWait time.Duration
	// Concurrency is how many POSTs run at once per target (default 4).
	Concurrency int
	// PublishTimeout bounds the publication of a dead letter (default 10s).
	PublishTimeout time.Duration
	// ConsumerCheck is how often a target's consumer is checked; one that
	// was deleted is made again (default 5s).
	ConsumerCheck time.Duration
	// Client sends the POSTs; default an http.Client without redirects.
	Client *http.Client
	Log    logrus.FieldLogger
	// Metrics, when set, observes every delivery.
	Metrics Metrics
}

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
	if c.RetryMin == 0 {
		c.RetryMin = time.Second
	}
	if c.RetryMax == 0 {
		c.RetryMax = 5 * time.Minute
	}
	if c.Tries == 0 {
		c.Tries = 15
	}
	if c.AckWait == 0 {
		c.AckWait = 2*c.Timeout + 10*time.Second
	}
	if c.Concurrency == 0 {
		c.Concurrency = 4
	}
	if c.PublishTimeout == 0 {
		c.PublishTimeout = 10 * time.Second
	}
	if c.ConsumerCheck == 0 {
		c.ConsumerCheck = 5 * time.Second
	}
	if c.Client == nil {
		c.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if c.Log == nil {
		c.Log = logrus.StandardLogger()
	}
	return c
}

func (c Config) validate() error {
	switch {
	case len(c.Targets) == 0:
		return fmt.Errorf("%w: no target URL", ErrConfig)
	case c.Secret == "" && c.SecretFunc == nil:
		return fmt.Errorf("%w: no secret to sign with (OUTGOING_WEBHOOK_SECRET, or an API key)", ErrConfig)
	case c.Timeout <= 0 || c.RetryMin <= 0 || c.RetryMax < c.RetryMin || c.PublishTimeout <= 0 || c.ConsumerCheck <= 0:
		return fmt.Errorf("%w: timeouts and retry delays must be positive, RetryMax at least RetryMin", ErrConfig)
	case c.Tries < 1 || c.Concurrency < 1:
		return fmt.Errorf("%w: tries and concurrency must be at least 1", ErrConfig)
	case c.AckWait <= c.Timeout:
		return fmt.Errorf("%w: AckWait (%s) must be longer than the POST timeout (%s)", ErrConfig, c.AckWait, c.Timeout)
	}
	for _, t := range c.Targets {
		for _, e := range t.Events {
			if _, ok := EventTypes[e]; !ok {
				return fmt.Errorf("%w: unknown webhook event %q", ErrConfig, e)
			}
		}
	}
	return nil
}

// Delay is the nak delay after the failed delivery number n (1-based):
// RetryMin doubled n-1 times, at most RetryMax.
func (c Config) Delay(n uint64) time.Duration {
	d := c.RetryMin
	for i := uint64(1); i < n && d < c.RetryMax; i++ {
		d *= 2
	}
	return min(d, c.RetryMax)
}
