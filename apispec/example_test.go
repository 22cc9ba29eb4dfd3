package apispec_test

import (
	"context"
	"fmt"

	"github.com/roomkeeper/roomkeeper/apispec"
)

func ExampleLoad() {
	doc, err := apispec.Load(context.Background())
	if err != nil {
		panic(err)
	}
	create := doc.Paths.Find("/rooms").Post
	fmt.Println(doc.Servers[0].URL, create.OperationID)
	fmt.Println(create.Parameters.GetByInAndName("header", "Idempotency-Key").Schema.Value.Pattern)
	// Output:
	// /api/v1 createRoom
	// ^[A-Za-z0-9_:-]{1,128}$
}
