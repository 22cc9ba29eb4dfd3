package sqlite

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// The database holds room secrets: its file and the files SQLite keeps
// beside it are readable and writable by their owner only.
const (
	dirMode  = 0o700
	fileMode = 0o600
)

// makePrivate creates the database file at path with mode 0600 if it does
// not exist, and makes it and its -wal, -shm and -journal files 0600 when
// they are open to anyone else (chmod: whatever the umask, and also for
// files an older version or another umask left readable). The files SQLite
// creates later get the mode of the database file.
func makePrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, fileMode)
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		fi, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o077 == 0 {
			continue
		}
		if err := os.Chmod(p, fileMode); err != nil {
			return fmt.Errorf("make %s readable by its owner only: %w", p, err)
		}
	}
	return nil
}
