package schemas_test

import (
	"errors"
	"fmt"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/schemas"
)

func ExampleValidateCommand() {
	body := []byte(`{"roomName": 12, "preferences": {"chatPreferences": {"enabled": true},
		"recordingPreferences": {"enabled": true},
		"virtualBackgroundPreferences": {"enabled": true}}}`)
	err := schemas.ValidateCommand(events.SubjectCreate, body)
	if e, ok := events.AsError(err); ok {
		fmt.Println(e.Code, "-", e.Message)
		for _, d := range e.Details {
			fmt.Printf("  %s: %s\n", d.Field, d.Message)
		}
	}

	err = schemas.ValidateCommand("rooms.cmd.frobnicate", []byte(`{}`))
	fmt.Println(errors.Is(err, schemas.ErrUnknownSubject))
	// Output:
	// invalid_argument - invalid rooms.cmd.create body
	//   preferences.recordingPreferences.allowAccessTo: is required
	//   roomName: must be null or a string
	// true
}

func ExampleValidateQuery() {
	fmt.Println(schemas.ValidateQuery(events.APIList, []byte(`{"maxItems": 12.78}`)))
	fmt.Println(schemas.ValidateQuery(events.APIList, []byte(`{"maxItems": 0}`)))
	// Output:
	// <nil>
	// invalid_argument: invalid rooms.api.list request (maxItems: must be at least 1)
}

func ExampleValidate() {
	result := []byte(`{"commandId": "c1", "type": "rooms.cmd.sweep", "ok": true,
		"data": {"expired": 1, "deleteCommands": 1, "reconciled": 0}}`)
	fmt.Println(schemas.Validate(schemas.Result, result))
	// Output:
	// <nil>
}
