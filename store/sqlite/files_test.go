package sqlite_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/store/sqlite"
	"github.com/roomkeeper/roomkeeper/store/storetest"
)

// requireMode checks the permission bits of the file at path.
func requireMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, want, fi.Mode().Perm(), "%s is %s", path, fi.Mode().Perm())
}

// The database holds room secrets: with a umask that lets anyone read new
// files, in a data directory that already exists and is open to all, the
// database and its WAL and shared-memory files are still the owner's
// alone; files an earlier run left readable are made so on open.
func TestFilesReadableByOwnerOnly(t *testing.T) {
	old := syscall.Umask(0)
	t.Cleanup(func() { syscall.Umask(old) })
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o755))
	path := filepath.Join(dir, sqlite.DefaultFileName)
	files := []string{path, path + "-wal", path + "-shm"}

	s, err := sqlite.Open(t.Context(), sqlite.Config{Path: path})
	require.NoError(t, err)
	require.NoError(t, s.InsertRoom(t.Context(), storetest.NewRoom("Private-abcdefghijklmno")))
	for _, f := range files {
		requireMode(t, f, 0o600)
	}
	require.NoError(t, s.Close())

	// Left readable by an older version: private again once opened.
	for _, f := range files {
		if _, err := os.Stat(f); os.IsNotExist(err) {
			require.NoError(t, os.WriteFile(f, nil, 0o644))
		}
		require.NoError(t, os.Chmod(f, 0o644))
	}
	s = openAt(t, path)
	require.NoError(t, s.Ping(t.Context()))
	for _, f := range files {
		requireMode(t, f, 0o600)
	}
	require.NoError(t, s.InsertRoom(t.Context(), storetest.NewRoom("Private-bcdefghijklmnop")))

	// A directory Open makes is its owner's alone.
	sub := filepath.Join(dir, "sub")
	openAt(t, filepath.Join(sub, sqlite.DefaultFileName))
	requireMode(t, sub, 0o700)
	requireMode(t, filepath.Join(sub, sqlite.DefaultFileName), 0o600)
}
