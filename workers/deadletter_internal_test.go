package workers

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/require"
)

// The listener decodes the advisory the server sends.
func TestMaxDeliveriesAdvisoryDecodesServerFormat(t *testing.T) {
	t.Parallel()
	raw, err := json.Marshal(server.JSConsumerDeliveryExceededAdvisory{
		TypedEvent: server.TypedEvent{Type: server.JSConsumerDeliveryExceededAdvisoryType, ID: "x", Time: time.Now()},
		Stream:     "ROOMS_COMMANDS", Consumer: "workers", StreamSeq: 42, Deliveries: 10,
	})
	require.NoError(t, err)
	var adv maxDeliveriesAdvisory
	require.NoError(t, json.Unmarshal(raw, &adv))
	require.Equal(t, maxDeliveriesAdvisory{Type: server.JSConsumerDeliveryExceededAdvisoryType, Stream: "ROOMS_COMMANDS", Consumer: "workers", StreamSeq: 42, Deliveries: 10}, adv)
	require.Equal(t, "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.ROOMS_COMMANDS.workers", MaxDeliveriesSubject("ROOMS_COMMANDS", "workers"))
}
