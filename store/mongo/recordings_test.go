package mongo_test

import (
	"testing"

	"github.com/roomkeeper/roomkeeper/internal/testenv/ferret"
	"github.com/roomkeeper/roomkeeper/store"
	"github.com/roomkeeper/roomkeeper/store/mongo"
	"github.com/roomkeeper/roomkeeper/store/storetest"
)

func TestRecordingsConformance(t *testing.T) {
	uri := ferret.MongoURI(t)
	storetest.RunRecordings(t, func(t *testing.T) store.Store {
		return openStore(t, uri, mongo.Config{})
	})
}
