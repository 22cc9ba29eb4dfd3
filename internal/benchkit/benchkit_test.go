package benchkit_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/internal/benchkit"
	"github.com/roomkeeper/roomkeeper/internal/testenv/ferret"
	"github.com/roomkeeper/roomkeeper/store"
	"github.com/roomkeeper/roomkeeper/store/mongo"
	"github.com/roomkeeper/roomkeeper/store/sqlite"
)

func TestParseMix(t *testing.T) {
	t.Parallel()
	m, err := benchkit.ParseMix("")
	require.NoError(t, err)
	require.Equal(t, benchkit.CreateOnly, m)
	m, err = benchkit.ParseMix("create=2, update=1,delete")
	require.NoError(t, err)
	require.Equal(t, benchkit.Mix{Create: 2, Update: 1, Delete: 1}, m)
	for _, bad := range []string{"update=1", "create=x", "create=-1", "sweep=1"} {
		_, err := benchkit.ParseMix(bad)
		require.Error(t, err, bad)
	}
}

func TestMedian(t *testing.T) {
	t.Parallel()
	require.Zero(t, benchkit.Median(nil))
	require.Equal(t, 2.0, benchkit.Median([]float64{3, 1, 2}))
	require.Equal(t, 2.5, benchkit.Median([]float64{4, 1, 3, 2}))
}

// ceilingOn runs a small mixed ceiling on st and checks every write
// succeeded and what is left.
func ceilingOn(t *testing.T, st store.Store) {
	ctx := context.Background()
	rep, err := benchkit.Ceiling(ctx, st, benchkit.CeilingConfig{N: 120, Concurrency: 8, Mix: benchkit.Mix{Create: 2, Update: 1, Delete: 1}, Prefix: "t"})
	require.NoError(t, err)
	require.Zero(t, rep.Errors(), "%+v", rep)
	require.Equal(t, 120, rep.OK)
	require.Positive(t, rep.Throughput)
	require.LessOrEqual(t, rep.P50, rep.P99)
	n, err := st.CountRooms(ctx)
	require.NoError(t, err)
	require.EqualValues(t, rep.Ops["create"]-rep.Ops["delete"], n)
}

func TestCeilingSQLite(t *testing.T) {
	t.Parallel()
	st, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "c.db")})
	require.NoError(t, err)
	defer func() { _ = st.Close() }()
	ceilingOn(t, st)
}

func TestCeilingMongo(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("FerretDB in -short")
	}
	st, err := mongo.Open(context.Background(), mongo.Config{URI: ferret.MongoURI(t), Database: ferret.DatabaseName(t)})
	require.NoError(t, err)
	defer func() { _ = st.Close() }()
	ceilingOn(t, st)
}

func TestFigures(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "bench.json")
	require.NoError(t, benchkit.UpdateFigures(path, func(f *benchkit.Figures) {
		f.Column("before").Create = &benchkit.CreateFigures{E2E: 1, Ceiling: 2, Ratio: 0.5}
	}))
	require.NoError(t, benchkit.UpdateFigures(path, func(f *benchkit.Figures) {
		f.Column("after").Create = &benchkit.CreateFigures{E2E: 3}
	}))
	f, err := benchkit.LoadFigures(path)
	require.NoError(t, err)
	require.Equal(t, 0.5, f.Columns["before"].Create.Ratio)
	require.Equal(t, 3.0, f.Columns["after"].Create.E2E)
}
