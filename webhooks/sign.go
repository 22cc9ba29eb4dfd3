package webhooks

import (
	"crypto/sha256"
	"encoding/base64"
	"time"

	"github.com/livekit/protocol/auth"
)

// Sign returns the Authorization header LiveKit's notifier sends with
// body: an access token of apiKey, signed with apiSecret, valid for
// validFor, whose sha256 claim is the body's. Tools and tests that post
// webhooks to the receiver use it.
func Sign(apiKey, apiSecret string, body []byte, validFor time.Duration) (string, error) {
	sum := sha256.Sum256(body)
	return auth.NewAccessToken(apiKey, apiSecret).
		SetValidFor(validFor).
		SetSha256(base64.StdEncoding.EncodeToString(sum[:])).
		ToJWT()
}
