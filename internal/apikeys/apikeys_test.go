package apikeys

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestList(t *testing.T) {
	k, err := New(" a1 , ,b2,", "")
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]bool{"a1": true, "b2": true, "": false, "a": false, "a1 ": false, "b2b2": false} {
		if got := k.Match(key); got != want {
			t.Errorf("Match(%q) = %v, want %v", key, got, want)
		}
	}
	if k.First() != "a1" {
		t.Errorf("First() = %q", k.First())
	}
}

func TestNone(t *testing.T) {
	if _, err := New(" , ", ""); !errors.Is(err, ErrNoKeys) {
		t.Fatalf("New with no key: %v, want ErrNoKeys", err)
	}
	if _, err := New("", filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("New with a missing file: no error")
	}
}

func TestFileReread(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(path, []byte("# ops\nold-key\n\n  other # team b\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := New("", path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	k.now = func() time.Time { return now }
	if !k.Match("old-key") || !k.Match("other") || k.Match("# ops") || k.First() != "old-key" {
		t.Fatal("keys of the file not matched as written")
	}
	if err := os.WriteFile(path, []byte("new-key-longer\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if !k.Match("old-key") {
		t.Fatal("file reread before a second passed")
	}
	now = now.Add(2 * time.Second)
	if k.First() != "new-key-longer" { // before any Match: a dispatcher-only process
		t.Fatalf("First() = %q: changed file not reread", k.First())
	}
	if k.Match("old-key") || !k.Match("new-key-longer") {
		t.Fatal("changed file not reread")
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Second)
	if !k.Match("new-key-longer") {
		t.Fatal("a removed file dropped the last keys")
	}
}
