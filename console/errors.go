package console

import "errors"

var (
	// ErrConfig: the Config is not usable (a required field is missing).
	ErrConfig = errors.New("console: invalid config")
	// ErrNoAuth: neither API keys nor a password are set and the HTTP
	// server does not listen on a loopback address only, so the console
	// would be open to the network; it is off.
	ErrNoAuth = errors.New("console: no API key and no CONSOLE_PASSWORD, and HTTP_ADDR is not a loopback address")
)
