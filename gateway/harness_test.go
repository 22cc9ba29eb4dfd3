package gateway_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/apispec/apispectest"
	"github.com/roomkeeper/roomkeeper/gateway"
	"github.com/roomkeeper/roomkeeper/internal/apikeys"
	lktest "github.com/roomkeeper/roomkeeper/internal/testenv/livekit"
	"github.com/roomkeeper/roomkeeper/internal/workertest"
	"github.com/roomkeeper/roomkeeper/queries"
	"github.com/roomkeeper/roomkeeper/store"
	"github.com/roomkeeper/roomkeeper/store/storetest"
)

const testKey = "test-api-key"

// bundle is a gateway on loopback in front of a real worker and query
// service on a real NATS server and SQLite store.
type bundle struct {
	*workertest.Bundle
	srv  *httptest.Server
	http *http.Client
	// unrouted is the client of the requests outside the spec.
	unrouted *http.Client
	lk       *lktest.Server
}

// waitStatus waits until the stored room has status, or is gone when
// status is "".
func (b *bundle) waitStatus(t testing.TB, id, status string) {
	t.Helper()
	require.Eventually(t, func() bool {
		r, err := b.Store.GetRoom(ctxT(t, 5*time.Second), id)
		if status == "" {
			return err != nil
		}
		return err == nil && r.Status == status
	}, 30*time.Second, 50*time.Millisecond, "%s: status %q", id, status)
}

// putRecordings stores n complete recordings of room.
func (b *bundle) putRecordings(t testing.TB, room string, n int) {
	t.Helper()
	for i := range n {
		_, err := b.Store.PutRecording(ctxT(t, 5*time.Second), storetest.NewRecording(fmt.Sprintf("EG_%s_%d", room, i), room, store.RecordingComplete, 1))
		require.NoError(t, err)
	}
}

type opts struct {
	noWorker bool
	// noQueries starts no query service.
	noQueries bool
	// liveKit starts a livekit-server whose webhooks reach the bundle's
	// JetStream, and makes it the worker's LiveKit.
	liveKit bool
	timeout time.Duration
	keys    gateway.Keys
}

func setup(t testing.TB, o opts) *bundle {
	t.Helper()
	b := &bundle{Bundle: workertest.Setup(t, workertest.SetupOpts{})}
	if !o.noQueries {
		q, err := queries.New(queries.Config{Store: b.Store, Log: b.Log})
		require.NoError(t, err)
		_, err = q.Start(b.NC)
		require.NoError(t, err)
		t.Cleanup(func() { _ = q.Close() })
	}
	if o.liveKit {
		b.lk = b.LiveKitWithWebhooks(t)
	}
	if !o.noWorker {
		b.Start(t, workertest.WorkerOpts{})
	}
	keys := o.keys
	if keys == nil {
		k, err := apikeys.New(testKey, "")
		require.NoError(t, err)
		keys = k
	}
	gw, err := gateway.New(gateway.Config{Client: b.Client, Keys: keys, CommandTimeout: o.timeout, Log: b.Log})
	require.NoError(t, err)
	b.srv = httptest.NewServer(gw)
	t.Cleanup(b.srv.Close)
	// Every exchange is checked against apispec/openapi.yaml.
	b.http = &http.Client{Timeout: 60 * time.Second, Transport: apispectest.Transport(t, nil)}
	b.unrouted = &http.Client{Timeout: 60 * time.Second, Transport: apispectest.Unrouted(t, nil)}
	return b
}

// resp is an answer of the gateway.
type resp struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a map.
func (r resp) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.Body, &m), "body %s", r.Body)
	return m
}

// Into decodes the body into v.
func (r resp) Into(t testing.TB, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(r.Body, v), "body %s", r.Body)
}

// req is a request; Key "" sends the test key, "-" none.
type req struct {
	Method, Path string
	Body         any // string: sent as is; else marshalled
	Key          string
	Header       map[string]string
	// Unrouted is a request outside the spec (a path it does not have, a
	// method a path does not take), checked by apispectest.Unrouted.
	Unrouted bool
}

func (b *bundle) do(t testing.TB, r req) resp {
	t.Helper()
	var body io.Reader
	switch v := r.Body.(type) {
	case nil:
	case string:
		body = strings.NewReader(v)
	case []byte:
		body = bytes.NewReader(v)
	default:
		raw, err := json.Marshal(v)
		require.NoError(t, err)
		body = bytes.NewReader(raw)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, r.Method, b.srv.URL+r.Path, body)
	require.NoError(t, err)
	if body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	switch r.Key {
	case "":
		hr.Header.Set("X-API-KEY", testKey)
	case "-":
	default:
		hr.Header.Set("X-API-KEY", r.Key)
	}
	for k, v := range r.Header {
		hr.Header.Set(k, v)
	}
	client := b.http
	if r.Unrouted {
		client = b.unrouted
	}
	res, err := client.Do(hr)
	require.NoError(t, err)
	defer func() { _ = res.Body.Close() }()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return resp{Status: res.StatusCode, Header: res.Header, Body: raw}
}

func (b *bundle) get(t testing.TB, path string, header ...string) resp {
	t.Helper()
	return b.do(t, req{Method: http.MethodGet, Path: path, Header: pairs(header)})
}

func pairs(kv []string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// create creates a room through the gateway and returns it (201).
func (b *bundle) create(t testing.TB, body any) map[string]any {
	t.Helper()
	r := b.do(t, req{Method: http.MethodPost, Path: "/api/v1/rooms", Body: body})
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	return r.JSON(t)
}

// requireError checks an error answer: its status and upstream's body.
func requireError(t testing.TB, r resp, status int, name string) map[string]any {
	t.Helper()
	require.Equal(t, status, r.Status, "%s", r.Body)
	m := r.JSON(t)
	require.Equal(t, name, m["error"], "%s", r.Body)
	require.NotEmpty(t, m["message"])
	return m
}

// requireInvalid checks upstream's validation body naming field: a
// detail's field is field, or a path holding it as a whole segment
// ("withMeeting" is in "autoDeletionPolicy.withMeeting", "roomId" is not
// in "roomIds").
func requireInvalid(t testing.TB, r resp, field string) {
	t.Helper()
	m := requireError(t, r, http.StatusUnprocessableEntity, "Unprocessable Entity")
	details, _ := m["details"].([]any)
	var fields []string
	for _, d := range details {
		f := d.(map[string]any)["field"].(string)
		fields = append(fields, f)
		if slices.Contains(strings.FieldsFunc(f, func(c rune) bool { return c == '.' || c == '[' || c == ']' }), field) {
			return
		}
	}
	require.Failf(t, "no detail names "+field, "fields %v in %s", fields, r.Body)
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func ctxT(t testing.TB, d time.Duration) context.Context { return workertest.Ctx(t, d) }

func randomKey() string { return "k-" + rand.Text() }
