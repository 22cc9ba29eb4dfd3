// Package apikeys holds the API keys the HTTP API and the console accept
// (API_KEYS and API_KEYS_FILE), compares them in constant time and rereads
// the file when it changes.
package apikeys

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// ErrNoKeys: neither API_KEYS nor API_KEYS_FILE names a key.
var ErrNoKeys = errors.New("no API key configured")

// recheck is how often, at most, Match looks at the file's modification
// time and size.
const recheck = time.Second

// Keys is a set of API keys: a fixed list and the lines of a file. It is
// safe for concurrent use.
type Keys struct {
	fixed []string
	file  string

	mu       sync.Mutex
	fromFile []string
	stamp    fileStamp
	checked  time.Time
	now      func() time.Time
}

type fileStamp struct {
	mod  time.Time
	size int64
}

// New returns the keys of list (comma-separated, blanks ignored) and of
// file (one a line, '#' starts a comment; "" for none). It fails when the
// file cannot be read or when there is no key at all.
func New(list, file string) (*Keys, error) {
	k := &Keys{file: file, now: time.Now}
	for _, s := range strings.Split(list, ",") {
		if s = strings.TrimSpace(s); s != "" {
			k.fixed = append(k.fixed, s)
		}
	}
	if file != "" {
		if err := k.reload(); err != nil {
			return nil, err
		}
	}
	if len(k.fixed) == 0 && len(k.fromFile) == 0 {
		return nil, ErrNoKeys
	}
	return k, nil
}

// First is the first key (of the list, else of the file, reread as Match
// rereads it): what OpenVidu Meet signs its webhooks with.
func (k *Keys) First() string {
	if keys := k.current(); len(keys) > 0 {
		return keys[0]
	}
	return ""
}

// Digest is the SHA-256 of the keys as they are now (in order): a value
// that every process configured with the same keys shares, and that changes
// when a key does, without holding any key.
func (k *Keys) Digest() [sha256.Size]byte {
	h := sha256.New()
	for _, s := range k.current() {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	var d [sha256.Size]byte
	h.Sum(d[:0])
	return d
}

// Match reports whether key is one of the keys, comparing digests in
// constant time so that the time taken says nothing of how much matched.
// The file is reread when its modification time or size changed (checked
// at most once a second); a file that became unreadable keeps its last
// keys.
func (k *Keys) Match(key string) bool {
	if key == "" {
		return false
	}
	d := sha256.Sum256([]byte(key))
	ok := 0
	for _, s := range k.current() {
		e := sha256.Sum256([]byte(s))
		ok |= subtle.ConstantTimeCompare(d[:], e[:])
	}
	return ok == 1
}

func (k *Keys) current() []string {
	if k.file == "" {
		return k.fixed
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if now := k.now(); now.Sub(k.checked) >= recheck {
		k.checked = now
		if st, err := os.Stat(k.file); err == nil && (fileStamp{st.ModTime(), st.Size()}) != k.stamp {
			_ = k.reloadLocked()
		}
	}
	return append(append([]string(nil), k.fixed...), k.fromFile...)
}

func (k *Keys) reload() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.reloadLocked()
}

func (k *Keys) reloadLocked() error {
	st, err := os.Stat(k.file)
	if err != nil {
		return fmt.Errorf("API_KEYS_FILE: %w", err)
	}
	data, err := os.ReadFile(k.file)
	if err != nil {
		return fmt.Errorf("API_KEYS_FILE: %w", err)
	}
	var keys []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		if line = strings.TrimSpace(line); line != "" {
			keys = append(keys, line)
		}
	}
	k.fromFile, k.stamp = keys, fileStamp{st.ModTime(), st.Size()}
	return nil
}
