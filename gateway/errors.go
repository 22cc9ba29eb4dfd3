package gateway

import "errors"

// Sentinel errors of the package.
var (
	// ErrConfig: a setting of the gateway is missing or out of range.
	ErrConfig = errors.New("invalid gateway configuration")
)
