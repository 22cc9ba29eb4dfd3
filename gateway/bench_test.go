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
// worker in the same run, with benchConc requests in flight, the two
// paths taking turns; it reports each path's rooms/s and the latency
// percentiles of one create (b.N creates per path).
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

	viaHTTP := func(ctx context.Context) error {
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
	}
	name := "bench"
	viaNATS := func(ctx context.Context) error {
		_, err := bd.Client.CreateRoom(ctx, "bench-"+randomKey(), events.CreateRoom{RoomName: &name})
		return err
	}
	// Both paths warm up first (connections, the worker's pulls, the
	// store's first pages), then take turns, in alternating order, so
	// that neither pays alone for the warm-up or for a store that grew.
	paths := []struct {
		name   string
		create func(context.Context) error
	}{{"http", viaHTTP}, {"nats", viaNATS}}
	for _, p := range paths {
		if _, err := creates(benchWarm, p.create); err != nil {
			b.Fatal(err)
		}
	}
	n := min(b.N, benchMax)
	per := max(1, n/benchRounds)
	lat := map[string][]time.Duration{}
	took := map[string]time.Duration{}
	b.ResetTimer()
	for round := 0; round*per < n; round++ {
		for i := range paths {
			p := paths[(i+round)%len(paths)]
			start := time.Now()
			l, err := creates(min(per, n-round*per), p.create)
			took[p.name] += time.Since(start)
			if err != nil {
				b.Fatal(err)
			}
			lat[p.name] = append(lat[p.name], l...)
		}
	}
	b.StopTimer()
	for _, p := range paths {
		l := lat[p.name]
		slices.Sort(l)
		b.ReportMetric(float64(len(l))/took[p.name].Seconds(), p.name+"-rooms/s")
		b.ReportMetric(float64(l[len(l)/2].Microseconds())/1000, p.name+"-p50-ms")
		b.ReportMetric(float64(l[min(len(l)-1, len(l)*99/100)].Microseconds())/1000, p.name+"-p99-ms")
	}
}

// benchConc is how many creates are in flight; benchMax bounds a run (per
// path); benchWarm is how many creates of each path warm up before it;
// benchRounds is how many turns each path takes.
const (
	benchConc   = 8
	benchMax    = 20000
	benchWarm   = 300
	benchRounds = 10
)

// creates makes n creates, benchConc at once, and returns the latency of
// each and the first error.
func creates(n int, create func(ctx context.Context) error) ([]time.Duration, error) {
	lat := make([]time.Duration, n)
	work := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	for range benchConc {
		wg.Go(func() {
			for i := range work {
				t0 := time.Now()
				err := create(ctx)
				lat[i] = time.Since(t0)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	return lat, firstErr
}
