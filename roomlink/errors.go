package roomlink

import "errors"

// ErrConfig: the Config is incomplete (no query client, no BASE_URL).
var ErrConfig = errors.New("roomlink config")
