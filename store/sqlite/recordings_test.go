package sqlite_test

import (
	"testing"

	"github.com/roomkeeper/roomkeeper/store"
	"github.com/roomkeeper/roomkeeper/store/storetest"
)

func TestRecordingsConformance(t *testing.T) {
	storetest.RunRecordings(t, func(t *testing.T) store.Store { return openTemp(t) })
}
