package app

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"net/http"

	"github.com/roomkeeper/roomkeeper/console"
)

// mountConsole adds the web console (/ui) to mux, in every role. It is off,
// and the log says why, when neither an API key nor CONSOLE_PASSWORD is set
// and HTTP_ADDR is not a loopback address. Run keeps its charts.
func (a *App) mountConsole(mux *http.ServeMux) error {
	cfg := console.Config{Conn: a.nc, Password: a.cfg.ConsolePassword, Loopback: a.cfg.HTTPLoopback(),
		Log: a.log.WithField("component", "console")}
	if a.metrics != nil {
		cfg.Gatherer = a.metrics.Registry()
	}
	if a.keys != nil {
		cfg.Keys = a.keys.Match
	}
	cfg.SessionKey = a.sessionKey()
	c, err := console.New(cfg)
	if err != nil {
		if errors.Is(err, console.ErrNoAuth) {
			a.log.WithError(err).Warn("the web console (/ui) is off: set API_KEYS or CONSOLE_PASSWORD, or listen on a loopback address")
			return nil
		}
		return err
	}
	mux.Handle("/ui/", c)
	mux.Handle("GET /ui", http.RedirectHandler("/ui/", http.StatusSeeOther))
	a.console = c
	if cfg.Open() {
		a.log.Warn("the web console (/ui) is open to anyone on this loopback address: set API_KEYS or CONSOLE_PASSWORD to require a login")
	}
	return nil
}

// sessionKey is the key that signs the console's session cookies, derived
// from the secrets a login takes (CONSOLE_PASSWORD and the API keys as they
// are at start): every process configured alike signs alike, so a login
// holds across replicas behind one address and across restarts, and
// changing the password or the keys ends every session. nil (a random key
// per process) when the console takes no secret.
func (a *App) sessionKey() []byte {
	if a.cfg.ConsolePassword == "" && a.keys == nil {
		return nil
	}
	mac := hmac.New(sha256.New, []byte("roomkeeper console session key v1"))
	mac.Write([]byte(a.cfg.ConsolePassword))
	mac.Write([]byte{0})
	if a.keys != nil {
		d := a.keys.Digest()
		mac.Write(d[:])
	}
	return mac.Sum(nil)
}
