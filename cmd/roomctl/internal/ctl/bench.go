package ctl

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/roomkeeper/roomkeeper/internal/benchkit"
	"github.com/roomkeeper/roomkeeper/store"
	"github.com/roomkeeper/roomkeeper/store/mongo"
	"github.com/roomkeeper/roomkeeper/store/sqlite"
)

// BenchCmd is `roomctl bench`: the load generator of BENCHMARKS.md.
type BenchCmd struct {
	N           int           `name:"n" short:"n" default:"1000" help:"Commands to publish."`
	Rate        float64       `name:"rate" default:"0" help:"Target commands per second; 0 publishes as fast as the window allows."`
	Concurrency int           `name:"concurrency" short:"c" default:"32" help:"Window: commands published and still without a result at most."`
	Mix         string        `name:"mix" placeholder:"create=2,update=1,delete=1" help:"Weights of create, update (update_preferences) and delete; default creates only. Updates and deletes act on rooms this run created."`
	Wait        time.Duration `name:"wait" default:"1m" help:"How long to wait for the last results after the last publish."`
	Ceiling     bool          `name:"ceiling" help:"Also run the same store writes directly against the store (--mongo-uri or --sqlite-path) at the same concurrency, and print the ratio."`
	MongoURI    string        `name:"mongo-uri" help:"MongoDB for --ceiling (use a scratch database: it gets the ceiling's rooms)."`
	MongoDB     string        `name:"mongo-db" default:"roomkeeper_bench" help:"Database for --ceiling with --mongo-uri."`
	SQLitePath  string        `name:"sqlite-path" type:"path" help:"SQLite file for --ceiling (a scratch file: it gets the ceiling's rooms)."`
}

// Run publishes, waits, prints the figures, then the ceiling and ratio.
func (c *BenchCmd) Run(e *env) error {
	mix, err := benchkit.ParseMix(c.Mix)
	if err != nil {
		return fail(ExitUsage, "--mix: %w", err)
	}
	if c.N < 1 || c.Concurrency < 1 || c.Rate < 0 {
		return fail(ExitUsage, "-n and -c must be at least 1, --rate at least 0")
	}
	if c.Ceiling && (c.MongoURI == "") == (c.SQLitePath == "") {
		return fail(ExitUsage, "--ceiling needs one of --mongo-uri or --sqlite-path")
	}
	if _, err := e.client(); err != nil {
		return err
	}
	rate := "max"
	if c.Rate > 0 {
		rate = fmt.Sprintf("%g/s", c.Rate)
	}
	_, _ = fmt.Fprintf(e.out, "bench: %d commands (%s), concurrency %d, rate %s\n", c.N, mix, c.Concurrency, rate)
	rep, err := benchkit.Run(e.ctx, e.nc, benchkit.RunConfig{
		N: c.N, Rate: c.Rate, Concurrency: c.Concurrency, Mix: mix, Wait: c.Wait,
		Prefix: "bench-" + NewCommandID()[len("roomctl-"):],
	})
	if err != nil {
		return fail(ExitUnreachable, "bench: %w", err)
	}
	rep.Print(e.out, "e2e")
	if c.Ceiling {
		ceil, where, err := c.ceiling(e.ctx, mix)
		if err != nil {
			return fail(ExitUnreachable, "ceiling: %w", err)
		}
		_, _ = fmt.Fprintf(e.out, "ceiling: the same store writes directly on %s, concurrency %d\n", where, c.Concurrency)
		ceil.Print(e.out, "ceiling")
		if ceil.Throughput > 0 {
			_, _ = fmt.Fprintf(e.out, "ratio e2e/ceiling: %.3f\n", rep.Throughput/ceil.Throughput)
		}
	}
	if n := rep.Errors(); n > 0 {
		return fail(ExitErrorResult, "%d of %d commands failed", n, rep.Sent)
	}
	return nil
}

func (c *BenchCmd) ceiling(ctx context.Context, mix benchkit.Mix) (*benchkit.Report, string, error) {
	var (
		st    store.Store
		err   error
		where string
	)
	if c.MongoURI != "" {
		where = "MongoDB database " + c.MongoDB
		st, err = mongo.Open(ctx, mongo.Config{URI: c.MongoURI, Database: c.MongoDB})
	} else {
		where = "SQLite " + filepath.Base(c.SQLitePath)
		st, err = sqlite.Open(ctx, sqlite.Config{Path: c.SQLitePath})
	}
	if err != nil {
		return nil, where, err
	}
	defer func() { _ = st.Close() }()
	rep, err := benchkit.Ceiling(ctx, st, benchkit.CeilingConfig{
		N: c.N, Concurrency: c.Concurrency, Mix: mix,
		Prefix: "ceiling-" + NewCommandID()[len("roomctl-"):],
	})
	return rep, where, err
}
