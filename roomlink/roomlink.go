package roomlink

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/natsapi"
)

// Paths are the patterns of the room links (http.ServeMux).
const (
	PathRoom       = "GET /room/{roomId}"
	PathRecordings = "GET /room/{roomId}/recordings"
)

// Queries are the rooms.api.* queries the pages need (*natsapi.Client).
type Queries interface {
	Role(ctx context.Context, roomID, secret string) (string, error)
	GetRoomWith(ctx context.Context, req events.GetRequest) (*events.RoomReply, error)
	RecordingToken(ctx context.Context, roomID, secret string) (string, error)
}

var _ Queries = (*natsapi.Client)(nil)

// Config configures the pages.
type Config struct {
	// Queries reads the rooms; required.
	Queries Queries
	// BaseURL is the Meet frontend's address (BASE_URL), where "join"
	// hands over; required.
	BaseURL string
	// Timeout bounds the queries of one page. Default 5s.
	Timeout time.Duration
	// Log receives query failures (never a secret); default: logrus'
	// standard logger.
	Log logrus.FieldLogger
}

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.Timeout <= 0 {
		c.Timeout = 5 * time.Second
	}
	if c.Log == nil {
		c.Log = logrus.StandardLogger()
	}
	return c
}

func (c Config) validate() error {
	if c.Queries == nil {
		return fmt.Errorf("%w: Queries required", ErrConfig)
	}
	if u, err := url.Parse(c.BaseURL); err != nil || u.Scheme == "" || u.Host == "" {
		return fmt.Errorf("%w: BaseURL %q must be an absolute URL", ErrConfig, c.BaseURL)
	}
	return nil
}

// Pages serves the room link pages.
type Pages struct {
	cfg  Config
	base *url.URL
}

// New returns the pages of cfg.
func New(cfg Config) (*Pages, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	base, _ := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	return &Pages{cfg: cfg, base: base}, nil
}

// Mount adds the pages to mux.
func (p *Pages) Mount(mux *http.ServeMux) {
	mux.HandleFunc(PathRoom, p.room)
	mux.HandleFunc(PathRecordings, p.recordings)
}

// page is what the template shows.
type page struct {
	Status  int
	Title   string
	Room    string // the room's name
	RoomID  string
	Role    string
	Message string
	// Join is the frontend's address of the same link; empty when
	// BASE_URL is roomkeeper itself (SelfBase then).
	Join     string
	JoinText string
	SelfBase bool
	BaseURL  string
}

func (p *Pages) room(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), p.cfg.Timeout)
	defer cancel()
	id, secret := r.PathValue("roomId"), r.URL.Query().Get("secret")
	role := "member (signs in at the frontend)"
	if secret != "" {
		got, err := p.cfg.Queries.Role(ctx, id, secret)
		if err != nil {
			p.fail(w, r, id, err)
			return
		}
		role = got
	}
	room, err := p.cfg.Queries.GetRoomWith(ctx, events.GetRequest{RoomID: id, Secret: secret, Fields: "roomId,roomName,status"})
	if err != nil {
		p.fail(w, r, id, err)
		return
	}
	pg := page{Status: http.StatusOK, Title: room.RoomName, Room: room.RoomName, RoomID: id, Role: role, JoinText: "Join the meeting"}
	if room.Status == events.StatusClosed {
		pg.Message = "This room is closed: the meeting cannot be joined now."
	}
	p.handOver(r, &pg)
	p.render(w, pg)
}

func (p *Pages) recordings(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), p.cfg.Timeout)
	defer cancel()
	id, secret := r.PathValue("roomId"), r.URL.Query().Get("secret")
	if secret == "" {
		p.fail(w, r, id, &events.Error{Code: events.CodeInvalidSecret})
		return
	}
	// The recordings link works after its room is deleted: no name then.
	if _, err := p.cfg.Queries.RecordingToken(ctx, id, secret); err != nil {
		p.fail(w, r, id, err)
		return
	}
	pg := page{Status: http.StatusOK, Title: "Recordings of room " + id, RoomID: id, Role: "recordings viewer", JoinText: "See the recordings"}
	p.handOver(r, &pg)
	p.render(w, pg)
}

// handOver sets the frontend's address of the link that was asked for,
// unless BASE_URL points back at this server.
func (p *Pages) handOver(r *http.Request, pg *page) {
	pg.BaseURL = p.base.String()
	if sameServer(p.base.Host, r.Host) {
		pg.SelfBase = true
		return
	}
	u := *p.base
	u.Path = p.base.Path + r.URL.Path
	u.RawQuery = r.URL.RawQuery
	pg.Join = u.String()
}

// sameServer reports whether two host[:port]s name the same server: equal,
// or the same port on loopback names (the default BASE_URL says localhost,
// the default HTTP_ADDR listens on 127.0.0.1).
func sameServer(a, b string) bool {
	if strings.EqualFold(a, b) {
		return true
	}
	ha, pa, errA := net.SplitHostPort(a)
	hb, pb, errB := net.SplitHostPort(b)
	return errA == nil && errB == nil && pa == pb && loopbackName(ha) && loopbackName(hb)
}

func loopbackName(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// fail answers a query error: 404 for a room or secret that does not
// exist, 503 when no worker answers or it fails.
func (p *Pages) fail(w http.ResponseWriter, r *http.Request, id string, err error) {
	var e *events.Error
	switch {
	case errors.As(err, &e) && (e.Code == events.CodeNotFound || e.Code == events.CodeInvalidSecret || e.Code == events.CodeInvalidArgument || e.Code == events.CodeForbidden):
		p.render(w, page{Status: http.StatusNotFound, Title: "Room link not found", RoomID: id,
			Message: "No room answers this link: the room does not exist (any more) or the link is not one of its links."})
	default:
		p.cfg.Log.WithError(err).WithField("room_id", id).WithField("path", r.URL.Path).Warn("room link page: query failed")
		p.render(w, page{Status: http.StatusServiceUnavailable, Title: "Room link unavailable", RoomID: id,
			Message: "The room cannot be read now; try again in a moment."})
	}
}

func (p *Pages) render(w http.ResponseWriter, pg page) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	// The link carries a secret: keep it out of Referer headers.
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(pg.Status)
	_ = pageTemplate.Execute(w, pg)
}

var pageTemplate = template.Must(template.New("room").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{{.Title}}</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 36rem; margin: 4rem auto; padding: 0 1rem; color: #222; }
.join { display: inline-block; padding: .6rem 1.2rem; background: #0b63ce; color: #fff; border-radius: .4rem; text-decoration: none; }
.note { color: #555; font-size: .9rem; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
{{if eq .Status 200}}
{{if .Room}}<p>Room <strong id="room-name">{{.Room}}</strong> <span class="note">({{.RoomID}})</span></p>{{end}}
<p>You are invited as <strong id="role">{{.Role}}</strong>.</p>
{{with .Message}}<p>{{.}}</p>{{end}}
{{if .Join}}<p><a class="join" id="join" href="{{.Join}}" rel="noreferrer">{{.JoinText}}</a></p>
<p class="note">The meeting runs in the Meet frontend at {{.BaseURL}}.</p>
{{else if .SelfBase}}<p class="note">BASE_URL ({{.BaseURL}}) points at roomkeeper itself, so there is no frontend to hand over to: set BASE_URL to the Meet frontend's address.</p>{{end}}
{{else}}
<p>{{.Message}}</p>
{{end}}
</body>
</html>
`))
