package rooms

import "errors"

// errGone: the room disappeared while it was being updated.
var errGone = errors.New("room gone")
