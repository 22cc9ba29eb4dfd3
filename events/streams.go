package events

// Stream and consumer names of the contract.
const (
	StreamCommands = "ROOMS_COMMANDS"
	StreamWebhooks = "LIVEKIT_WEBHOOKS"
	StreamResults  = "ROOMS_RESULTS"
	StreamEvents   = "ROOMS_EVENTS"
	StreamDead     = "ROOMS_DEAD"

	// ConsumerWorkers is the durable pull consumer every worker process
	// shares, on both ROOMS_COMMANDS and LIVEKIT_WEBHOOKS.
	ConsumerWorkers = "workers"
)

// ConsumedStreams are the streams the workers consume.
var ConsumedStreams = []string{StreamCommands, StreamWebhooks}
