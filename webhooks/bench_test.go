package webhooks

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
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
		body, err := rc.readBody(w, r)
		if err == nil {
			err = rc.verify(r.Header.Get("Authorization"), body)
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
			for i := 0; i < b.N; i++ {
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
