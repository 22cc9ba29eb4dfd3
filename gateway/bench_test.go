package gateway_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/roomkeeper/roomkeeper/events"
)

// BenchmarkCreateRoom creates rooms through the gateway (real HTTP on
// loopback) and through natsapi.Client.CreateRoom, against the same
// worker in the same run, with benchConc requests in flight; it reports
// rooms/s and the latency percentiles of one create.
//
//	go test ./gateway -run '^$' -bench CreateRoom -benchtime 2000x
func BenchmarkCreateRoom(b *testing.B) {
	bd := setup(b, opts{})
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: benchConc}}
	b.Cleanup(client.CloseIdleConnections)
	body := []byte(`{"roomName":"bench"}`)
	// The timed requests go on a plain client (apispectest serialises its
	// checks); the same request, once, goes through the spec check.
	if r := bd.do(b, req{Method: http.MethodPost, Path: "/api/v1/rooms", Body: string(body)}); r.Status != http.StatusCreated {
		b.Fatalf("create: %d %s", r.Status, r.Body)
	}

	b.Run("http", func(b *testing.B) {
		runCreates(b, func(ctx context.Context, _ int) error {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, bd.srv.URL+"/api/v1/rooms", bytes.NewReader(body))
			if err != nil {
				return err
			}
			req.Header.Set("X-API-KEY", testKey)
			req.Header.Set("Content-Type", "application/json")
			res, err := client.Do(req)
			if err != nil {
				return err
			}
			defer func() { _ = res.Body.Close() }()
			_, _ = io.Copy(io.Discard, res.Body)
			if res.StatusCode != http.StatusCreated {
				return fmt.Errorf("status %d", res.StatusCode)
			}
			return nil
		})
	})
	b.Run("nats", func(b *testing.B) {
		name := "bench"
		runCreates(b, func(ctx context.Context, _ int) error {
			_, err := bd.Client.CreateRoom(ctx, "bench-"+randomKey(), events.CreateRoom{RoomName: &name})
			return err
		})
	})
}

// benchConc is how many creates are in flight; benchMax bounds a run.
const (
	benchConc = 8
	benchMax  = 20000
)

func runCreates(b *testing.B, create func(ctx context.Context, i int) error) {
	n := min(b.N, benchMax)
	lat := make([]time.Duration, n)
	work := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	b.ResetTimer()
	start := time.Now()
	for range benchConc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				t0 := time.Now()
				err := create(ctx, i)
				lat[i] = time.Since(t0)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	slices.Sort(lat)
	b.ReportMetric(float64(n)/elapsed.Seconds(), "rooms/s")
	b.ReportMetric(float64(lat[n/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[min(n-1, n*99/100)].Microseconds())/1000, "p99-ms")
}
