package webhooks

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/internal/testenv"
)

// benchBatch is how many requests each server gets per iteration, so that
// even -benchtime 1x (make bench) measures a meaningful rate.
const benchBatch = 2000

// BenchmarkIngest posts signed room_finished events, each with its own id,
// at concurrency c over loopback, to the receiver (verify, decode, store in
// JetStream, answer) and to a bare handler that only reads and verifies the
// body and answers 200. It reports both rates and receiver/bare: what
// waiting for JetStream's acknowledgement costs.
//
//	go test -run '^$' -bench Ingest -benchtime 3x ./webhooks/
func BenchmarkIngest(b *testing.B) {
	n := testenv.StartNATS(b)
	_, js := n.Bootstrap(b, nil)
	rc, err := New(Config{APIKey: testKey, APISecret: testSecret}, js, nil)
	require.NoError(b, err)

	receiver := httptest.NewServer(rc)
	b.Cleanup(receiver.Close)
	bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hash, err := rc.authorize(r.Header.Get("Authorization"))
		if err == nil {
			var body *body
			if body, err = rc.readBody(w, r); err == nil {
				err = checkHash(hash, body.bytes())
				body.release(true)
			}
		}
		status, _ := StatusOf(err)
		w.WriteHeader(status)
	}))
	b.Cleanup(bare.Close)

	for _, c := range []int{1, 8, 32} {
		b.Run(fmt.Sprintf("c=%d", c), func(b *testing.B) {
			client := &http.Client{Transport: &http.Transport{
				MaxIdleConnsPerHost: c,
				MaxConnsPerHost:     c,
			}, Timeout: 10 * time.Second}
			b.Cleanup(client.CloseIdleConnections)

			var bareTime, rcvTime time.Duration
			var sent int
			for i := range b.N {
				b.StopTimer()
				reqs := signedBatch(b, fmt.Sprintf("c%d_%d", c, i), benchBatch)
				b.StartTimer()
				bareTime += fire(b, client, bare.URL+Path, reqs, c)
				rcvTime += fire(b, client, receiver.URL+Path, reqs, c)
				sent += len(reqs)
			}
			bareRate := float64(sent) / bareTime.Seconds()
			rcvRate := float64(sent) / rcvTime.Seconds()
			b.ReportMetric(rcvRate, "receiver_req/s")
			b.ReportMetric(bareRate, "bare_req/s")
			b.ReportMetric(rcvRate/bareRate, "receiver/bare")
			b.ReportMetric(float64(rcvTime.Microseconds())/float64(sent)*float64(c), "receiver_mean_µs")
		})
	}
}

type signedReq struct {
	body  []byte
	authz string
}

// signedBatch makes n signed room_finished events with distinct ids.
func signedBatch(b *testing.B, prefix string, n int) []signedReq {
	reqs := make([]signedReq, n)
	for i := range reqs {
		body := event(b, "room_finished", fmt.Sprintf("EV_bench_%s_%d_%d", prefix, time.Now().UnixNano(), i), "bench-room")
		reqs[i] = signedReq{body: body, authz: sign(b, testKey, testSecret, body)}
	}
	return reqs
}

// fire posts every request with c workers and returns the wall time; any
// answer but 200 fails the benchmark.
func fire(b *testing.B, client *http.Client, url string, reqs []signedReq, c int) time.Duration {
	var next atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for range c {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(reqs) {
					return
				}
				req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(reqs[i].body))
				if err != nil {
					failed.Store(err.Error())
					return
				}
				req.Header.Set("Authorization", reqs[i].authz)
				resp, err := client.Do(req)
				if err != nil {
					failed.Store(err.Error())
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failed.Store(fmt.Sprintf("%s: status %d", url, resp.StatusCode))
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if msg := failed.Load(); msg != nil {
		b.Fatal(msg)
	}
	return elapsed
}

// BenchmarkServe1MiB serves a signed 1 MiB event (the largest accepted
// body) through the receiver and reports the bytes allocated per request.
// "stored": the whole path, the in-process NATS server's own allocations
// included (every iteration posts the same event, so JetStream stores it
// once and drops the copies); "receiver": the same body with an event name
// that is not a subject token, so the request is read, verified, decoded and
// refused (400) without a publish: the receiver's own share.
//
//	go test -run '^$' -bench Serve1MiB -benchmem ./webhooks/
func BenchmarkServe1MiB(b *testing.B) {
	n := testenv.StartNATS(b)
	_, js := n.Bootstrap(b, nil)
	rc, err := New(Config{APIKey: testKey, APISecret: testSecret}, js, nil)
	require.NoError(b, err)
	for _, bc := range []struct {
		name, event string
		status      int
	}{
		{"stored", "room_finished", http.StatusOK},
		{"receiver", "room.finished", http.StatusBadRequest},
	} {
		b.Run(bc.name, func(b *testing.B) {
			head := `{"event":"` + bc.event + `","id":"EV_bench_1mib","room":{"name":"r1","metadata":"`
			tail := `"}}`
			body := []byte(head + strings.Repeat("a", int(DefaultMaxBody)-len(head)-len(tail)) + tail)
			authz := sign(b, testKey, testSecret, body)
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, Path, bytes.NewReader(body))
				req.Header.Set("Authorization", authz)
				w := httptest.NewRecorder()
				rc.ServeHTTP(w, req)
				if w.Code != bc.status {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		})
	}
}
