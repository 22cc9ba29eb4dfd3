package ctl

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// DefaultURL is the server roomctl connects to without --server or a
// context: a roomkeeper serve on this machine.
const DefaultURL = "nats://127.0.0.1:4222"

// natsContext is the part of a natscli context file roomctl reads
// (~/.config/nats/context/<name>.json, written by `nats context save`).
type natsContext struct {
	URL         string `json:"url"`
	Token       string `json:"token"`
	User        string `json:"user"`
	Password    string `json:"password"`
	Creds       string `json:"creds"`
	Nkey        string `json:"nkey"`
	Cert        string `json:"cert"`
	Key         string `json:"key"`
	CA          string `json:"ca"`
	InboxPrefix string `json:"inbox_prefix"`
}

// connOpts is how roomctl connects: the flags over the context.
type connOpts struct {
	url, creds, nkey, user, password, token, cert, key, ca, inbox string
}

// contextDir is natscli's configuration directory: $XDG_CONFIG_HOME/nats,
// else ~/.config/nats.
func contextDir(cli CLI) (string, error) {
	root := cli.ConfigDir
	if root == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		root = filepath.Join(home, ".config")
	}
	return filepath.Join(root, "nats"), nil
}

// loadContext reads the natscli context roomctl connects with: --context,
// else the one selected in context.txt; nil when neither names one. A
// context named but missing is a usage error.
func loadContext(cli CLI) (*natsContext, error) {
	dir, err := contextDir(cli)
	if err != nil {
		if cli.Context == "" {
			return nil, nil // no home directory: no selected context either
		}
		return nil, fail(ExitUsage, "--context %s: %w", cli.Context, err)
	}
	name, flag := cli.Context, "--context"
	if name == "" {
		raw, err := os.ReadFile(filepath.Join(dir, "context.txt"))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, fail(ExitUsage, "natscli's selected context: %w", err)
		}
		if name = strings.TrimSpace(string(raw)); name == "" {
			return nil, nil
		}
		flag = "the selected context (" + filepath.Join(dir, "context.txt") + ")"
	}
	if strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
		return nil, fail(ExitUsage, "%s: %q is not a context name", flag, name)
	}
	path := filepath.Join(dir, "context", name+".json")
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fail(ExitUsage, "%s: context %s: %w", flag, name, err)
	}
	var c natsContext
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fail(ExitUsage, "%s: context %s: %s: %w", flag, name, path, err)
	}
	return &c, nil
}

// expandHome turns a leading ~/ into the home directory, as natscli does
// for the files of a context.
func expandHome(path string) string {
	if rest, ok := strings.CutPrefix(path, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, rest)
		}
	}
	return path
}

// or is the flag's value when set, else the context's.
func or(flag, fromContext string) string {
	if flag != "" {
		return flag
	}
	return fromContext
}

// resolveConn is how roomctl connects: each setting from its flag (or
// environment variable), else from the natscli context, else the default;
// with no credentials at all, the seed of a roomkeeper serve under
// --data-dir when there is one.
func resolveConn(cli CLI) (connOpts, error) {
	c, err := loadContext(cli)
	if err != nil {
		return connOpts{}, err
	}
	if c == nil {
		c = &natsContext{}
	}
	o := connOpts{
		url:      or(cli.NATSURL, c.URL),
		creds:    or(cli.NATSCreds, expandHome(c.Creds)),
		nkey:     or(cli.NATSNkey, expandHome(c.Nkey)),
		user:     or(cli.User, c.User),
		password: or(cli.Password, c.Password),
		token:    c.Token,
		cert:     or(cli.TLSCert, expandHome(c.Cert)),
		key:      or(cli.TLSKey, expandHome(c.Key)),
		ca:       or(cli.TLSCA, expandHome(c.CA)),
		inbox:    or(cli.Inbox, c.InboxPrefix),
	}
	if o.url == "" {
		o.url = DefaultURL
	}
	if (o.cert == "") != (o.key == "") {
		return o, fail(ExitUsage, "a TLS client certificate needs both --tlscert and --tlskey")
	}
	if o.creds == "" && o.nkey == "" && o.user == "" && o.token == "" && cli.DataDir != "" {
		path := filepath.Join(cli.DataDir, "nats", "client.nk")
		if _, err := os.Stat(path); err == nil {
			o.nkey = path
		}
	}
	return o, nil
}

// connect opens the connection.
func (o connOpts) connect(timeout time.Duration, onAsyncError nats.ErrHandler) (*nats.Conn, error) {
	opts := []nats.Option{nats.Name("roomctl"), nats.Timeout(min(timeout, 10*time.Second)), nats.ErrorHandler(onAsyncError)}
	if o.creds != "" {
		opts = append(opts, nats.UserCredentials(o.creds))
	}
	if o.nkey != "" {
		opt, err := nats.NkeyOptionFromSeed(o.nkey)
		if err != nil {
			return nil, fmt.Errorf("nkey %s: %w", o.nkey, err)
		}
		opts = append(opts, opt)
	}
	if o.user != "" {
		opts = append(opts, nats.UserInfo(o.user, o.password))
	}
	if o.token != "" {
		opts = append(opts, nats.Token(o.token))
	}
	if o.cert != "" {
		opts = append(opts, nats.ClientCert(o.cert, o.key))
	}
	if o.ca != "" {
		opts = append(opts, nats.RootCAs(o.ca))
	}
	if o.inbox != "" {
		opts = append(opts, nats.CustomInboxPrefix(o.inbox))
	}
	nc, err := nats.Connect(o.url, opts...)
	if err != nil {
		if errors.Is(err, nats.ErrAuthorization) && o.creds == "" && o.nkey == "" && o.user == "" && o.token == "" && o.cert == "" {
			// The usual first surprise: roomctl run outside the directory
			// of a make run, whose embedded server wants its key.
			return nil, fmt.Errorf("connect %s: %w (no credentials given: a roomkeeper serve's embedded server takes the key DATA_DIR/nats/client.nk: --data-dir or --nkey; else --creds, --user, or a natscli --context)", o.url, err)
		}
		return nil, fmt.Errorf("connect %s: %w", o.url, err)
	}
	return nc, nil
}
