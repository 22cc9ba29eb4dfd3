package workers

import (
	"encoding/json"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/schemas"
)

// DecodeJSON validates body against the JSON Schema of subject and
// unmarshals it into M. Bad input comes back as an *events.Error with code
// invalid_argument naming the field.
func DecodeJSON[M any](subject string, body []byte) (M, error) {
	var m M
	if err := schemas.ValidateCommand(subject, body); err != nil {
		if e, ok := events.AsError(err); ok {
			return m, e
		}
		return m, events.Invalid(err.Error())
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return m, events.Invalid("malformed JSON", events.FieldError{Field: "body", Message: err.Error()})
	}
	return m, nil
}
