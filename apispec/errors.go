package apispec

import "errors"

// ErrInvalid wraps the error of a document that does not load or validate.
var ErrInvalid = errors.New("apispec: invalid OpenAPI document")
