package console_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/internal/app"
	"github.com/roomkeeper/roomkeeper/internal/config"
	"github.com/roomkeeper/roomkeeper/natsapi"
)

// chromium finds a Chromium to drive (CHROMIUM_BIN, else chromium on the
// PATH), or skips the test saying how to get one.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM_BIN"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("browser test skipped: no Chromium found (install Debian's chromium: apt-get install -y chromium, or set CHROMIUM_BIN); .ci/run installs it")
	return ""
}

// site is a whole roomkeeper serve process, its console at base, and a
// client on its NATS server.
type site struct {
	base   string
	client *natsapi.Client
	js     jetstream.JetStream
}

func serve(t *testing.T) *site {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.EmbeddedNATSAddr = "127.0.0.1:0"
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.LogLevel = "warn"
	cfg.APIKeys = testKey
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.Start(ctx, cfg, app.All, cfg.Logger())
	if err != nil {
		cancel()
		require.NoError(t, err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err)
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop within 30s")
		}
	})
	var opts []nats.Option
	if seed := a.SeedFile(); seed != "" {
		o, err := nats.NkeyOptionFromSeed(seed)
		require.NoError(t, err)
		opts = append(opts, o)
	}
	nc, err := nats.Connect(a.NATSURL(), opts...)
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	client, err := natsapi.NewClient(nc)
	require.NoError(t, err)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	return &site{base: "http://" + a.HTTPAddr(), client: client, js: js}
}

// browse starts a headless Chromium for the test; the context ends after
// limit.
func browse(t *testing.T, limit time.Duration) context.Context {
	t.Helper()
	bin := chromium(t)
	actx, acancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(bin), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 860),
	)
	bctx, bcancel := chromedp.NewContext(actx)
	// Start the browser on a context without a deadline (the first Run's
	// context owns the browser).
	require.NoError(t, chromedp.Do(bctx))
	ctx, cancel := context.WithTimeout(bctx, limit)
	t.Cleanup(func() { cancel(); bcancel(); acancel() })
	return ctx
}

// shot saves a screenshot of the page as docs/console-<name>.png when
// CONSOLE_SCREENSHOTS names a directory.
func shot(name string) chromedp.Action[chromedp.Void] {
	dir := os.Getenv("CONSOLE_SCREENSHOTS")
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		if dir == "" {
			return chromedp.Void{}, nil
		}
		png, err := chromedp.FullScreenshot(100)(ctx, t)
		if err != nil {
			return chromedp.Void{}, err
		}
		return chromedp.Void{}, os.WriteFile(filepath.Join(dir, "console-"+name+".png"), png, 0o644)
	}
}

// poll waits until the JavaScript expression is true, evaluating it every
// 100ms (also across page loads, where an evaluation may fail).
func poll(expr string, limit time.Duration) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		deadline := time.Now().Add(limit)
		var last error
		for {
			ok, err := chromedp.Evaluate[bool](expr)(ctx, t)
			if err == nil && ok {
				return chromedp.Void{}, nil
			}
			last = err
			if time.Now().After(deadline) || ctx.Err() != nil {
				return chromedp.Void{}, fmt.Errorf("waited %s for %s (last error: %v)", limit, expr, last)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// text is the text of the element sel.
func text(ctx context.Context, t *testing.T, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(sel)))
	require.NoError(t, err, sel)
	return s
}

// waitFor waits until the loaded page has an element sel.
func waitFor(sel string) chromedp.Action[chromedp.Void] {
	return poll(`document.readyState === "complete" && document.querySelector(`+jsString(sel)+`) !== null`, 30*time.Second)
}

// do runs the steps in order, each within 45s, and fails the test naming
// the step that failed and the page it was on.
func do(ctx context.Context, t *testing.T, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	for i, a := range steps {
		sctx, cancel := context.WithTimeout(ctx, 45*time.Second)
		_, err := chromedp.Run(sctx, a)
		cancel()
		if err != nil {
			lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			loc, _ := chromedp.Run(lctx, chromedp.Location())
			cancel()
			t.Fatalf("step %d of %d failed on %s: %v", i+1, len(steps), loc, err)
		}
	}
}

// waitText waits until the text of sel contains want.
func waitText(sel, want string) chromedp.Action[chromedp.Void] {
	return poll(`(() => { const e = document.querySelector(`+jsString(sel)+`); return !!e && e.textContent.includes(`+jsString(want)+`); })()`, 30*time.Second)
}

func jsString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

// The console in a real browser against a whole roomkeeper serve: sign in,
// create a room, find it, open it, delete it with a policy; watch a domain
// event arrive live; replay a dead letter as it was and edited; look at the
// streams and their charts.
func TestBrowser(t *testing.T) {
	ctx := browse(t, 3*time.Minute) // first: it skips without a Chromium
	s := serve(t)

	t.Run("login", func(t *testing.T) {
		do(ctx, t,
			chromedp.Navigate(s.base+"/ui/rooms"),
			waitFor(`#secret`),
		)
		loc, err := chromedp.Run(ctx, chromedp.Location())
		require.NoError(t, err)
		do(ctx, t,
			shot("login"),
			chromedp.SendKeys(chromedp.CSS(`#secret`), "wrong key"),
			chromedp.Click(chromedp.CSS(`#signin`)),
			waitText(`#error`, "neither an API key"),
			waitFor(`#secret`),
			chromedp.SendKeys(chromedp.CSS(`#secret`), testKey),
			chromedp.Click(chromedp.CSS(`#signin`)),
			waitFor(`#create`),
		)
		assert.True(t, strings.HasSuffix(loc, "/ui/login"), loc)
	})

	t.Run("rooms", func(t *testing.T) {
		do(ctx, t,
			chromedp.SendKeys(chromedp.CSS(`#roomName`), "Browser Room"),
			chromedp.Click(chromedp.CSS(`#create-btn`)),
			waitFor(`#room-id`),
		)
		id, name := text(ctx, t, `#room-id`), text(ctx, t, `#room-name`)
		assert.Equal(t, "Browser Room", name)
		require.NotEmpty(t, id)
		// Another room, so that the search has something to leave out.
		other := "Other"
		_, err := s.client.CreateRoom(ctxT(t, 30*time.Second), "browser-other", events.CreateRoom{RoomName: &other})
		require.NoError(t, err)

		do(ctx, t,
			chromedp.Navigate(s.base+"/ui/rooms"),
			waitText(`#rooms`, "Browser Room"),
			waitText(`#rooms`, "Other"),
			shot("rooms"),
			chromedp.SendKeys(chromedp.CSS(`#q`), "brow"),
			// The search swaps the table once typing stops (and pushes the
			// URL): wait for the last swap to settle before reading it.
			poll(`location.search.includes("q=brow") && !document.querySelector(".htmx-request, .htmx-swapping, .htmx-settling") && !document.querySelector("#rooms").textContent.includes("Other")`, 20*time.Second),
		)
		list := text(ctx, t, `#rooms`)
		do(ctx, t,
			chromedp.Click(chromedp.CSS(`#rooms a[href$="/`+id+`"]`)),
			waitFor(`#delete`),
			waitText(`#room-config`, `"chat"`),
			shot("room"),
			chromedp.SetValue(chromedp.CSS(`#withMeeting`), events.PolicyForce),
			chromedp.SetValue(chromedp.CSS(`#withRecordings`), events.PolicyForce),
			chromedp.Click(chromedp.CSS(`#delete-btn`)),
			waitText(`#flash`, id),
		)
		assert.Contains(t, list, "Browser Room")
		flash, rooms := text(ctx, t, `#flash`), text(ctx, t, `#rooms`)
		assert.Contains(t, flash, events.DeleteSuccessRoomDeleted)
		assert.NotContains(t, rooms, "Browser Room")
		_, err = s.client.GetRoom(ctxT(t, 10*time.Second), id)
		var e *events.Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, events.CodeNotFound, e.Code)
	})

	t.Run("live events", func(t *testing.T) {
		do(ctx, t,
			chromedp.Navigate(s.base+"/ui/events"),
			waitText(`#live-status`, "live"),
		)
		name := "Live One"
		room, err := s.client.CreateRoom(ctxT(t, 30*time.Second), "browser-live", events.CreateRoom{RoomName: &name})
		require.NoError(t, err)
		do(ctx, t,
			waitText(`#events`, room.RoomID),
			waitText(`#events`, events.EventCreated),
			shot("events"),
		)
	})

	t.Run("dead letters", func(t *testing.T) {
		// A create whose name is a number: invalid, so dead-lettered at once.
		c := ctxT(t, 30*time.Second)
		require.NoError(t, s.client.SendRaw(c, "browser-poison", events.SubjectCreate, []byte(`{"roomName": 42}`)))
		r, err := s.client.Result(c, "browser-poison")
		require.NoError(t, err)
		require.False(t, r.OK)
		do(ctx, t,
			chromedp.Navigate(s.base+"/ui/dead"),
			waitText(`#dead`, "browser-poison"),
			shot("dead"),
			chromedp.Click(chromedp.CSS(`#dead a`)),
			waitFor(`#replay-btn`),
			chromedp.Click(chromedp.CSS(`#replay-btn`)),
			waitText(`#replay-outcome`, events.CodeInvalidArgument),
			chromedp.SetValue(chromedp.CSS(`#body`), `{"roomName": "Fixed By Replay"}`),
			chromedp.Click(chromedp.CSS(`#replay-edited-btn`)),
			waitText(`#replay-outcome`, "ok"),
			waitText(`#replay-result`, "Fixed By Replay"),
			shot("deadletter"),
		)
		list, err := s.client.ListRooms(ctxT(t, 10*time.Second), events.ListRequest{RoomName: "Fixed By Replay"})
		require.NoError(t, err)
		assert.Len(t, list.Rooms, 1)

		// The replay as it was died again: two dead letters, both purged.
		do(ctx, t,
			chromedp.Navigate(s.base+"/ui/dead"),
			waitFor(`#purge-btn`),
			chromedp.Click(chromedp.CSS(`#purge-btn`)),
			waitText(`#flash`, "Purged 2 dead letter(s)."),
			waitText(`#dead`, "No dead letter."),
		)
		dead, err := natsapi.ListDead(ctxT(t, 10*time.Second), s.js, 0)
		require.NoError(t, err)
		assert.Empty(t, dead)
	})

	t.Run("commands", func(t *testing.T) {
		do(ctx, t,
			chromedp.Navigate(s.base+"/ui/commands?state=done"),
			waitText(`#commands`, "browser-other"),
			waitText(`#commands`, "replay-"),
			shot("commands"),
			chromedp.Click(chromedp.CSS(`#state-dead`)),
			waitFor(`#state-dead.badge`),
			waitText(`#commands`, "browser-poison"),
		)
		assert.NotContains(t, text(ctx, t, `#commands`), "browser-other")
	})

	t.Run("streams", func(t *testing.T) {
		do(ctx, t,
			chromedp.Navigate(s.base+"/ui/streams"),
			waitFor(`#charts`),
			// The charts redraw every 5s; wait for two samples.
			poll(`document.querySelectorAll("#charts polyline").length === 2`, 40*time.Second),
			shot("streams"),
		)
		main := text(ctx, t, `main`)
		for _, want := range []string{events.StreamCommands, events.StreamEvents, events.StreamDead, events.ConsumerWorkers, "Throughput"} {
			assert.Contains(t, main, want)
		}
	})
}
