package ferret_test

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/roomkeeper/roomkeeper/internal/testenv/ferret"
)

func connect(t *testing.T, uri string) *mongo.Client {
	t.Helper()
	c, err := mongo.Connect(options.Client().ApplyURI(uri).SetServerSelectionTimeout(2 * time.Second))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Disconnect(context.Background()) })
	return c
}

func TestStartStopRestart(t *testing.T) {
	srv := ferret.Start(t)
	require.Regexp(t, `^mongodb://127\.0\.0\.1:\d+/$`, srv.URI)
	require.True(t, srv.Running())

	ctx := t.Context()
	client := connect(t, srv.URI)
	coll := client.Database(ferret.DatabaseName(t)).Collection("things")
	_, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "a"}, {Key: "n", Value: 1}})
	require.NoError(t, err)

	start := time.Now()
	srv.Stop()
	require.Less(t, time.Since(start), 2*time.Second, "Stop is fast even with open connections")
	require.False(t, srv.Running())
	srv.Stop() // idempotent

	ctx2, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	err = coll.FindOne(ctx2, bson.D{{Key: "_id", Value: "a"}}).Err()
	require.Error(t, err, "a stopped server does not answer")

	require.NoError(t, srv.Restart())
	require.True(t, srv.Running())
	require.NoError(t, srv.Restart()) // idempotent

	// The same client reconnects to the same address and finds the data.
	var doc struct{ N int }
	require.Eventually(t, func() bool {
		return coll.FindOne(ctx, bson.D{{Key: "_id", Value: "a"}}).Decode(&doc) == nil
	}, 10*time.Second, 50*time.Millisecond)
	require.Equal(t, 1, doc.N)
}

func TestMongoURI(t *testing.T) {
	t.Setenv(ferret.EnvMongoURI, "mongodb://example.invalid:27017/")
	require.Equal(t, "mongodb://example.invalid:27017/", ferret.MongoURI(t))

	t.Setenv(ferret.EnvMongoURI, "")
	uri := ferret.MongoURI(t)
	require.Regexp(t, `^mongodb://127\.0\.0\.1:\d+/$`, uri)
	require.NoError(t, connect(t, uri).Ping(t.Context(), nil))
}

func TestDatabaseName(t *testing.T) {
	a, b := ferret.DatabaseName(t), ferret.DatabaseName(t)
	require.NotEqual(t, a, b)
	valid := regexp.MustCompile(`^[a-z0-9_]{1,63}$`)
	require.Regexp(t, valid, a)
	t.Run("a very long subtest name with Spaces/and/slashes and more and more words", func(t *testing.T) {
		require.Regexp(t, valid, ferret.DatabaseName(t))
	})
}
