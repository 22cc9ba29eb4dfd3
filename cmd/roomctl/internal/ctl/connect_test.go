package ctl_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/cmd/roomctl/internal/ctl"
	"github.com/roomkeeper/roomkeeper/natsapi"
)

// startServer runs a NATS server with JetStream and opts (auth, TLS) on
// loopback, with the contract's streams made by a client connecting with
// copts.
func startServer(t *testing.T, opts *server.Options, copts ...nats.Option) string {
	t.Helper()
	opts.Host, opts.Port = "127.0.0.1", -1
	opts.JetStream, opts.StoreDir = true, t.TempDir()
	opts.NoSigs, opts.NoLog = true, true
	ns, err := server.NewServer(opts)
	require.NoError(t, err)
	go ns.Start()
	require.True(t, ns.ReadyForConnections(10*time.Second))
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	url := ns.ClientURL()
	if opts.TLSConfig != nil {
		url = strings.Replace(url, "nats://", "tls://", 1)
	}
	nc, err := nats.Connect(url, copts...)
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, natsapi.Bootstrap(ctx, js, natsapi.DefaultTopology()))
	return url
}

// roomctlRaw runs roomctl with exactly args (no --server), natscli's
// configuration under configDir and no roomkeeper data directory.
func roomctlRaw(t *testing.T, configDir string, args ...string) run {
	t.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	base := []string{"--nats-config-dir", configDir, "--data-dir", t.TempDir(), "--timeout", "5s"}
	code := ctl.Main(ctx, append(base, args...), &out, &errOut)
	return run{code: code, out: out.String(), errOut: errOut.String()}
}

// writeContext writes a natscli context file, and selects it when select_.
func writeContext(t *testing.T, dir, name, body string, select_ bool) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "nats", "context"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "nats", "context", name+".json"), []byte(body), 0o600))
	if select_ {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "nats", "context.txt"), []byte(name+"\n"), 0o600))
	}
}

const emptyDead = "SEQ  SUBJECT  COMMAND ID  DELIVERIES  REASON\n"

// TestNATSCLIContexts: roomctl connects as natscli does: the selected
// context, or --context, with flags over the context's settings.
func TestNATSCLIContexts(t *testing.T) {
	t.Parallel()
	url := startServer(t, &server.Options{Username: "ops", Password: "s3cret"}, nats.UserInfo("ops", "s3cret"))
	dir := t.TempDir()

	// natscli flags, no context.
	r := roomctlRaw(t, dir, "-s", url, "--user", "ops", "--password", "s3cret", "dead", "list")
	require.Equal(t, ctl.ExitOK, r.code, r.errOut)
	require.Equal(t, emptyDead, r.out)
	r = roomctlRaw(t, dir, "--server", url, "dead", "list")
	require.Equal(t, ctl.ExitUnreachable, r.code)
	require.Contains(t, strings.ToLower(r.errOut), "authorization violation")
	// With no credentials at all, the error says where they come from.
	require.Contains(t, r.errOut, "no credentials given")
	require.Contains(t, r.errOut, "--data-dir")
	r = roomctlRaw(t, dir, "--server", url, "--user", "ops", "--password", "wrong", "dead", "list")
	require.Equal(t, ctl.ExitUnreachable, r.code)
	require.NotContains(t, r.errOut, "no credentials given")

	// The selected context.
	writeContext(t, dir, "ops", `{"description":"ops","url":"`+url+`","user":"ops","password":"s3cret","jetstream_domain":""}`, true)
	r = roomctlRaw(t, dir, "dead", "list")
	require.Equal(t, ctl.ExitOK, r.code, r.errOut)
	require.Equal(t, emptyDead, r.out)

	// --context picks another; a flag overrides its setting.
	writeContext(t, dir, "stale", `{"url":"`+url+`","user":"ops","password":"old"}`, false)
	r = roomctlRaw(t, dir, "--context", "stale", "dead", "list")
	require.Equal(t, ctl.ExitUnreachable, r.code)
	r = roomctlRaw(t, dir, "--context", "stale", "--password", "s3cret", "dead", "list")
	require.Equal(t, ctl.ExitOK, r.code, r.errOut)
	// The old flag keeps working, over the context's URL.
	r = roomctlRaw(t, dir, "--context", "ops", "--nats-url", "nats://127.0.0.1:1", "dead", "list")
	require.Equal(t, ctl.ExitUnreachable, r.code)
	require.Contains(t, r.errOut, "connect nats://127.0.0.1:1")

	// A context that is not there is a usage error.
	r = roomctlRaw(t, dir, "--context", "nope", "dead", "list")
	require.Equal(t, ctl.ExitUsage, r.code)
	require.Contains(t, r.errOut, "roomctl: error: --context: context nope: ")
	r = roomctlRaw(t, dir, "--context", "../ops", "dead", "list")
	require.Equal(t, ctl.ExitUsage, r.code)
}

// TestTLSFlags: --tlsca, --tlscert, --tlskey (or a context's ca, cert,
// key) connect to a server that requires a client certificate.
func TestTLSFlags(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca, caKey := newCA(t)
	serverCert := issue(t, ca, caKey, "server", true)
	clientCert := issue(t, ca, caKey, "client", false)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	caFile := writePEM(t, dir, "ca.pem", "CERTIFICATE", ca.Raw)
	certFile := writePEM(t, dir, "client.pem", "CERTIFICATE", clientCert.Certificate[0])
	keyDER, err := x509.MarshalECPrivateKey(clientCert.PrivateKey.(*ecdsa.PrivateKey))
	require.NoError(t, err)
	keyFile := writePEM(t, dir, "client-key.pem", "EC PRIVATE KEY", keyDER)

	url := startServer(t, &server.Options{
		TLS: true, TLSVerify: true, TLSTimeout: 5,
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{serverCert},
			ClientCAs:    pool,
			ClientAuth:   tls.RequireAndVerifyClientCert,
			MinVersion:   tls.VersionTLS12,
		},
	}, nats.RootCAs(caFile), nats.ClientCert(certFile, keyFile))

	r := roomctlRaw(t, dir, "-s", url, "--tlsca", caFile, "--tlscert", certFile, "--tlskey", keyFile, "dead", "list")
	require.Equal(t, ctl.ExitOK, r.code, r.errOut)
	require.Equal(t, emptyDead, r.out)
	r = roomctlRaw(t, dir, "-s", url, "--tlsca", caFile, "dead", "list")
	require.Equal(t, ctl.ExitUnreachable, r.code, "no client certificate")
	r = roomctlRaw(t, dir, "-s", url, "--tlsca", caFile, "--tlscert", certFile, "dead", "list")
	require.Equal(t, ctl.ExitUsage, r.code, r.errOut)

	writeContext(t, dir, "tls", `{"url":"`+url+`","ca":"`+caFile+`","cert":"`+certFile+`","key":"`+keyFile+`"}`, false)
	r = roomctlRaw(t, dir, "--context", "tls", "dead", "list")
	require.Equal(t, ctl.ExitOK, r.code, r.errOut)
}

func newCA(t *testing.T) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "roomctl test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return cert, key
}

func issue(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, cn string, isServer bool) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if isServer {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	require.NoError(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func writePEM(t *testing.T, dir, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600))
	return path
}
