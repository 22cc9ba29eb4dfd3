package queries_test

import (
	"testing"

	"github.com/roomkeeper/roomkeeper/internal/workertest"
)

// bundle is the shared test kit, with this package's helpers as methods.
type bundle struct{ *workertest.Bundle }

func setup(t testing.TB, opts workertest.SetupOpts) *bundle {
	t.Helper()
	return &bundle{workertest.Setup(t, opts)}
}

var ctxT = workertest.Ctx

func ptr[T any](v T) *T { return &v }
