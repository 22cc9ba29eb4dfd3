package embedded

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"

	"github.com/roomkeeper/roomkeeper/events"
)

// File names under the embedded server's directory (DATA_DIR/nats).
const (
	// ClientSeedFile is the client nkey seed: every permission. The roles,
	// roomctl and natscli (--nkey) connect with it.
	ClientSeedFile = "client.nk"
	// PublishersDir holds one public user nkey per publisher, NAME.pub.
	PublishersDir = "publishers"
	// PublisherKeyExt ends the name of a publisher's public key file.
	PublisherKeyExt = ".pub"
)

// Auth says which nkeys the embedded server accepts.
type Auth struct {
	// Client is the public user nkey with every permission.
	Client string
	// PublishersDir holds the publishers' public keys, one NAME.pub each,
	// read when the server starts. A missing directory means none.
	PublishersDir string
}

// users is the server's nkey user list: the client, then the publishers.
func (a *Auth) users() ([]*server.NkeyUser, error) {
	if !nkeys.IsValidPublicUserKey(a.Client) {
		return nil, fmt.Errorf("%w: client key %q is not a public user nkey", ErrAuth, a.Client)
	}
	users := []*server.NkeyUser{{Nkey: a.Client}}
	pubs, err := LoadPublishers(a.PublishersDir)
	if err != nil {
		return nil, err
	}
	seen := map[string]string{a.Client: "the client key"}
	for _, p := range pubs {
		if other, ok := seen[p.Key]; ok {
			return nil, fmt.Errorf("%w: publisher %s has the same key as %s", ErrAuth, p.Name, other)
		}
		seen[p.Key] = "publisher " + p.Name
		users = append(users, &server.NkeyUser{Nkey: p.Key, Permissions: PublisherPermissions(p.Name)})
	}
	return users, nil
}

// Publisher is a client limited to publishing commands and reading
// results.
type Publisher struct {
	// Name is the file name without .pub; it names the publisher's inbox
	// prefix.
	Name string
	// Key is its public user nkey.
	Key string
}

var publisherName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ValidPublisherName reports whether name can name a publisher: 1 to 64
// letters, digits, '-' or '_' (it becomes a subject token).
func ValidPublisherName(name string) bool { return publisherName.MatchString(name) }

// PublisherInboxPrefix is the inbox prefix a publisher's connection must
// use (nats.CustomInboxPrefix, natscli --inbox-prefix): replies to its
// requests come there, and it may subscribe nowhere else but to results.
// The default _INBOX is closed to publishers, as the replies to everyone
// else's requests (queries carrying room secrets, the messages pulled by
// the workers) travel on it.
func PublisherInboxPrefix(name string) string { return "_INBOX_" + name }

// PublisherPermissions are a publisher's: publish commands on rooms.cmd.>,
// read results (subscribe rooms.results.>, get them from ROOMS_RESULTS by
// direct or stream get, as natsapi.Client does), and receive replies on its
// own inbox prefix. Nothing else: no webhook subject, no query, no
// consumer, no other stream.
func PublisherPermissions(name string) *server.Permissions {
	const api = "$JS.API."
	res := events.StreamResults
	return &server.Permissions{
		Publish: &server.SubjectPermission{Allow: []string{
			events.CommandPrefix + ">",
			api + "STREAM.INFO." + res,
			api + "DIRECT.GET." + res,
			api + "DIRECT.GET." + res + ".>",
			api + "STREAM.MSG.GET." + res,
		}},
		Subscribe: &server.SubjectPermission{Allow: []string{
			events.ResultPrefix + ">",
			PublisherInboxPrefix(name) + ".>",
		}},
	}
}

// LoadPublishers reads the public keys in dir (NAME.pub, one public user
// nkey each), sorted by name. A missing dir holds none.
func LoadPublishers(dir string) ([]Publisher, error) {
	if dir == "" {
		return nil, nil
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: publishers: %w", ErrAuth, err)
	}
	var pubs []Publisher
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), PublisherKeyExt)
		if !ok || e.IsDir() {
			continue
		}
		if !ValidPublisherName(name) {
			return nil, fmt.Errorf("%w: publisher file %s: the name must be 1 to 64 letters, digits, '-' or '_'", ErrAuth, e.Name())
		}
		raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("%w: publisher %s: %w", ErrAuth, name, err)
		}
		key := strings.TrimSpace(string(raw))
		if !nkeys.IsValidPublicUserKey(key) {
			return nil, fmt.Errorf("%w: publisher file %s does not hold a public user nkey (U...)", ErrAuth, e.Name())
		}
		pubs = append(pubs, Publisher{Name: name, Key: key})
	}
	sort.Slice(pubs, func(i, j int) bool { return pubs[i].Name < pubs[j].Name })
	return pubs, nil
}

// AddPublisher makes a new user key pair for publisher name, writes its
// public key to dir/NAME.pub and returns the seed, which the publisher
// keeps (only it can connect with it). It refuses a name already taken.
// The running server reads the directory when it starts.
func AddPublisher(dir, name string) (seed []byte, pub string, err error) {
	if !ValidPublisherName(name) {
		return nil, "", fmt.Errorf("%w: publisher name %q: 1 to 64 letters, digits, '-' or '_'", ErrAuth, name)
	}
	kp, err := nkeys.CreateUser()
	if err != nil {
		return nil, "", err
	}
	if seed, err = kp.Seed(); err != nil {
		return nil, "", err
	}
	if pub, err = kp.PublicKey(); err != nil {
		return nil, "", err
	}
	if err := writeNew(filepath.Join(dir, name+PublisherKeyExt), []byte(pub+"\n")); err != nil {
		return nil, "", err
	}
	return seed, pub, nil
}

// LoadOrCreateSeed returns the public key of the user nkey seed at path,
// creating the seed (mode 0600, its directory 0700) when the file does not
// exist yet. An existing seed readable by others is made 0600.
func LoadOrCreateSeed(path string) (pub string, err error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		pub, err := createSeed(path)
		if !errors.Is(err, fs.ErrExist) {
			return pub, err
		}
		// Another process made it first: use that one.
		raw, err = os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("%w: %w", ErrAuth, err)
		}
	} else if err != nil {
		return "", fmt.Errorf("%w: %w", ErrAuth, err)
	}
	if err := Private(path); err != nil {
		return "", err
	}
	kp, err := nkeys.ParseDecoratedNKey(raw)
	if err != nil {
		return "", fmt.Errorf("%w: %s: %w", ErrAuth, path, err)
	}
	defer kp.Wipe()
	pub, err = kp.PublicKey()
	if err != nil || !nkeys.IsValidPublicUserKey(pub) {
		return "", fmt.Errorf("%w: %s does not hold a user nkey seed (SU...)", ErrAuth, path)
	}
	return pub, nil
}

// createSeed writes a new user nkey seed at path and returns its public key.
func createSeed(path string) (string, error) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		return "", err
	}
	defer kp.Wipe()
	seed, err := kp.Seed()
	if err != nil {
		return "", err
	}
	if err := WriteSeed(path, seed); err != nil {
		return "", err
	}
	return kp.PublicKey()
}

// Private makes the file at path readable and writable by its owner only
// (0600) when it is open to anyone else; chmod, so the umask does not
// matter.
func Private(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.Mode().Perm()&0o077 == 0 {
		return nil
	}
	if err := os.Chmod(path, 0o600); err != nil {
		return fmt.Errorf("make %s private: %w", path, err)
	}
	return nil
}

// WriteSeed writes seed to a new file at path, mode 0600; it never
// overwrites a file.
func WriteSeed(path string, seed []byte) error {
	return writeNew(path, append(append([]byte(nil), seed...), '\n'))
}

// writeNew writes data to a new file at path, mode 0600, creating its
// directory (0700) if needed. The file appears whole or not at all; it
// fails with fs.ErrExist when path exists.
func writeNew(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	if err := tmp.Chmod(0o600); err != nil {
		_ = tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	// link fails if path exists: no key is ever overwritten.
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%w: %s exists already: %w", ErrAuth, path, fs.ErrExist)
		}
		return err
	}
	return nil
}
