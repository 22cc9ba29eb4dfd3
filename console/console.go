package console

import (
	"bytes"
	"context"
	"crypto/rand"
	"embed"
	"encoding/json"
	"html/template"
	"io/fs"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/roomkeeper/roomkeeper/natsapi"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Console is the web console, an http.Handler for everything under
// Config.Prefix.
type Console struct {
	cfg    Config
	key    []byte
	client *natsapi.Client
	js     jetstream.JetStream
	mux    *http.ServeMux
	pages  map[string]*template.Template
	charts *sampler
	logins *throttle
	// done is closed when Sample returns: the live event streams end.
	done chan struct{}
}

// page is what every template gets.
type page struct {
	Title  string
	Nav    string
	Prefix string
	CSRF   string
	Open   bool
	Flash  string
	Error  string
	Data   any
}

// New returns the console; Sample then keeps its charts.
func New(cfg Config) (*Console, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	client, err := natsapi.NewClient(cfg.Conn)
	if err != nil {
		return nil, err
	}
	js, err := jetstream.New(cfg.Conn)
	if err != nil {
		return nil, err
	}
	c := &Console{cfg: cfg, key: cfg.SessionKey, client: client, js: js, mux: http.NewServeMux(), pages: map[string]*template.Template{},
		charts: newSampler(cfg.Gatherer, cfg.Samples), done: make(chan struct{}),
		logins: newThrottle(cfg.LoginEvery, cfg.LoginBurst)}
	if c.key == nil {
		c.key = make([]byte, 32)
		_, _ = rand.Read(c.key) // never fails (crypto/rand)
	}
	funcs := template.FuncMap{
		"json":  prettyJSON,
		"ms":    func(ms int64) string { return time.UnixMilli(ms).UTC().Format("2006-01-02 15:04:05Z") },
		"msp":   func(ms *int64) string { return fmtMsPtr(ms) },
		"since": func(t time.Time) string { return time.Since(t).Round(time.Second).String() },
		"time":  func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") },
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return nil, err
		}
		c.pages[name] = t
	}
	c.routes()
	return c, nil
}

func (c *Console) routes() {
	p, m := c.cfg.Prefix, c.mux
	static, _ := fs.Sub(staticFS, "static")
	m.Handle("GET "+p+"/static/", http.StripPrefix(p+"/static/", http.FileServerFS(static)))
	m.HandleFunc("GET "+p+"/login", c.loginPage)
	m.HandleFunc("POST "+p+"/login", c.login)
	m.HandleFunc("POST "+p+"/logout", c.authed(c.logout))
	m.HandleFunc("GET "+p+"/{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, p+"/rooms", http.StatusSeeOther)
	})
	m.HandleFunc("GET "+p+"/rooms", c.authed(c.roomsPage))
	m.HandleFunc("POST "+p+"/rooms", c.authed(c.createRoom))
	m.HandleFunc("GET "+p+"/rooms/{id}", c.authed(c.roomPage))
	m.HandleFunc("POST "+p+"/rooms/{id}/delete", c.authed(c.deleteRoom))
	m.HandleFunc("GET "+p+"/events", c.authed(c.eventsPage))
	m.HandleFunc("GET "+p+"/events/stream", c.authed(c.eventStream))
	m.HandleFunc("GET "+p+"/dead", c.authed(c.deadPage))
	m.HandleFunc("GET "+p+"/dead/{seq}", c.authed(c.deadLetterPage))
	m.HandleFunc("POST "+p+"/dead/{seq}/replay", c.authed(c.replay))
	m.HandleFunc("POST "+p+"/dead/{seq}/delete", c.authed(c.deleteDead))
	m.HandleFunc("POST "+p+"/dead/purge", c.authed(c.purgeDead))
	m.HandleFunc("GET "+p+"/commands", c.authed(c.commandsPage))
	m.HandleFunc("GET "+p+"/streams", c.authed(c.streamsPage))
	m.HandleFunc("GET "+p+"/streams/charts", c.authed(c.chartsFragment))
}

// ServeHTTP serves the console.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	if c.cfg.Open() && !loopbackHost(r.Host) {
		// Open, the console trusts whoever reaches the loopback address;
		// a page of another site whose name was rebound to 127.0.0.1
		// (DNS rebinding) reaches it too, but sends its own Host.
		http.Error(w, "forbidden: without API_KEYS or CONSOLE_PASSWORD the console answers only requests to localhost or a loopback address", http.StatusForbidden)
		return
	}
	c.mux.ServeHTTP(w, r)
}

// loopbackHost reports whether a request's Host (host[:port]) names a
// loopback address: localhost, 127.0.0.0/8 or ::1.
func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Sample samples the charts' metrics every SampleInterval until ctx ends;
// then the live event streams end too (so that a server shutdown does
// not wait for them).
func (c *Console) Sample(ctx context.Context) error {
	defer close(c.done)
	t := time.NewTicker(c.cfg.SampleInterval)
	defer t.Stop()
	c.charts.sample(time.Now())
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-t.C:
			c.charts.sample(now)
		}
	}
}

// render writes page name, or a 500 when the template fails.
func (c *Console) render(w http.ResponseWriter, status int, name string, p *page) {
	t := c.pages[name]
	var buf bytes.Buffer
	tmpl := "layout"
	if strings.HasSuffix(name, "_fragment") {
		tmpl = "content"
	}
	if err := t.ExecuteTemplate(&buf, tmpl, p); err != nil {
		c.cfg.Log.WithError(err).WithField("page", name).Error("console: render")
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// ctx is a request's context bounded by Timeout.
func (c *Console) ctx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), c.cfg.Timeout)
}

func prettyJSON(v any) string {
	var raw []byte
	switch x := v.(type) {
	case []byte:
		raw = x
	case json.RawMessage:
		raw = x
	default:
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err.Error()
		}
		return string(b)
	}
	var buf bytes.Buffer
	if json.Indent(&buf, raw, "", "  ") != nil {
		return string(raw)
	}
	return buf.String()
}

func fmtMsPtr(ms *int64) string {
	if ms == nil {
		return "—"
	}
	return time.UnixMilli(*ms).UTC().Format("2006-01-02 15:04:05Z")
}
