package mongo

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"

	"github.com/roomkeeper/roomkeeper/store"
)

func TestWrapErr(t *testing.T) {
	dup := mongo.WriteException{WriteErrors: []mongo.WriteError{{Code: 11000, Message: "E11000 duplicate key"}}}
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"deadline", fmt.Errorf("op: %w", context.DeadlineExceeded), store.ErrUnavailable},
		{"not primary", mongo.CommandError{Code: 10107, Name: "NotWritablePrimary"}, store.ErrUnavailable},
		{"shutting down", mongo.CommandError{Code: 91, Name: "ShutdownInProgress"}, store.ErrUnavailable},
		{"network label", mongo.CommandError{Labels: []string{"NetworkError"}}, store.ErrUnavailable},
		{"duplicate", dup, store.ErrDuplicate},
		{"no documents", mongo.ErrNoDocuments, store.ErrNotFound},
	} {
		err := wrapErr("op", tc.err)
		require.ErrorIs(t, err, tc.want, tc.name)
		if errors.Is(tc.want, store.ErrUnavailable) {
			require.Contains(t, err.Error(), tc.err.Error(), "%s: the driver's error stays in the chain", tc.name)
		}
	}

	sse := topology.ServerSelectionError{Wrapped: errors.New("no server")}
	err := wrapErr("op", sse)
	require.ErrorIs(t, err, store.ErrUnavailable)
	require.ErrorAs(t, err, &topology.ServerSelectionError{})

	// A pool cleared by another operation's network error (the server went
	// away while several operations were in flight): the driver wraps its
	// pool error, which says it is retryable, in an error labelled
	// TransientTransactionError and no NetworkError.
	cleared := mongo.CommandError{
		Message: "connection pool for 127.0.0.1:27017 was cleared because another operation failed with: EOF",
		Labels:  []string{"TransientTransactionError"},
		Wrapped: driver.Error{Message: "pool cleared", Wrapped: retryablePoolError{}},
	}
	err = wrapErr("op", cleared)
	require.ErrorIs(t, err, store.ErrUnavailable, "a cleared pool: %v", err)

	require.NoError(t, wrapErr("op", nil))
	for _, err := range []error{
		context.Canceled,
		mongo.CommandError{Code: 2, Name: "BadValue"},
		mongo.ErrClientDisconnected,
	} {
		got := wrapErr("op", err)
		require.Contains(t, got.Error(), err.Error())
		for _, sentinel := range []error{store.ErrUnavailable, store.ErrDuplicate, store.ErrNotFound, store.ErrConflict} {
			require.NotErrorIs(t, got, sentinel, "%v", err)
		}
	}
}

// retryablePoolError stands for the driver's unexported poolClearedError.
type retryablePoolError struct{}

func (retryablePoolError) Error() string   { return "connection pool was cleared" }
func (retryablePoolError) Retryable() bool { return true }

var _ driver.RetryablePoolError = retryablePoolError{}
