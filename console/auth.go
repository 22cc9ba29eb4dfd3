package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// cookieName is the session cookie.
const cookieName = "roomkeeper_console"

// csrfField is the form field, csrfHeader the header (htmx, from
// hx-headers) that carry the CSRF token of a POST.
const (
	csrfField  = "csrf"
	csrfHeader = "X-CSRF-Token"
)

// maxFormBytes bounds the body of a POST: an edited dead letter (NATS
// messages are 1 MiB by default) URL-encoded.
const maxFormBytes = 4 << 20

// mac is HMAC-SHA256 of parts under the session key.
func (c *Console) mac(parts ...string) []byte {
	h := hmac.New(sha256.New, c.key)
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum(nil)
}

// newSession returns a session value: expiry, nonce, and their MAC.
func (c *Console) newSession(now time.Time) string {
	exp := strconv.FormatInt(now.Add(c.cfg.SessionTTL).Unix(), 10)
	nonce := strings.ToLower(rand.Text())
	return exp + "." + nonce + "." + base64.RawURLEncoding.EncodeToString(c.mac("session", exp, nonce))
}

// validSession reports whether v is a session this process signed and
// that has not expired.
func (c *Console) validSession(v string, now time.Time) bool {
	parts := strings.Split(v, ".")
	if len(parts) != 3 {
		return false
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, c.mac("session", parts[0], parts[1])) {
		return false
	}
	exp, err := strconv.ParseInt(parts[0], 10, 64)
	return err == nil && now.Unix() < exp
}

// csrfToken is the CSRF token of session v.
func (c *Console) csrfToken(v string) string {
	return hex.EncodeToString(c.mac("csrf", v)[:16])
}

// session returns the request's valid session value, or "".
func (c *Console) session(r *http.Request) string {
	ck, err := r.Cookie(cookieName)
	if err != nil || !c.validSession(ck.Value, time.Now()) {
		return ""
	}
	return ck.Value
}

func (c *Console) setCookie(w http.ResponseWriter, r *http.Request, v string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: v, Path: c.cfg.Prefix, MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: overTLS(r),
	})
}

// overTLS reports whether the browser reached the console over TLS: on
// this connection, or through a proxy that ended TLS and said so
// (X-Forwarded-Proto or Forwarded proto=https). A forged header only makes
// the cookie Secure, which a browser on plain HTTP then does not send back.
func overTLS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	if p, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Proto"), ","); strings.EqualFold(strings.TrimSpace(p), "https") {
		return true
	}
	first, _, _ := strings.Cut(r.Header.Get("Forwarded"), ",")
	for _, kv := range strings.Split(first, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		if strings.EqualFold(k, "proto") && strings.EqualFold(strings.Trim(v, `"`), "https") {
			return true
		}
	}
	return false
}

// sameOrigin reports whether a request's Origin (when the browser sent
// one) names the host it was sent to.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

// secretOK reports whether secret is an API key or the password, in
// constant time.
func (c *Console) secretOK(secret string) bool {
	if secret == "" {
		return false
	}
	ok := c.cfg.Keys != nil && c.cfg.Keys(secret)
	if c.cfg.Password != "" {
		a, b := sha256.Sum256([]byte(secret)), sha256.Sum256([]byte(c.cfg.Password))
		if subtle.ConstantTimeCompare(a[:], b[:]) == 1 {
			ok = true
		}
	}
	return ok
}

// authed wraps a page: without a session it redirects to the login page
// (or, on an open console, starts one); a POST without the session's CSRF
// token, or from another origin, is refused with 403.
func (c *Console) authed(next func(http.ResponseWriter, *http.Request, *page)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess := c.session(r)
		if sess == "" {
			if !c.cfg.Open() {
				to := c.cfg.Prefix + "/login"
				if r.Header.Get("HX-Request") != "" {
					w.Header().Set("HX-Redirect", to)
					w.WriteHeader(http.StatusUnauthorized)
					return
				}
				http.Redirect(w, r, to, http.StatusSeeOther)
				return
			}
			if r.Method == http.MethodPost {
				http.Error(w, "no session: reload the page", http.StatusForbidden)
				return
			}
			sess = c.newSession(time.Now())
			c.setCookie(w, r, sess, int(c.cfg.SessionTTL/time.Second))
		}
		tok := c.csrfToken(sess)
		if r.Method == http.MethodPost {
			// A form that cannot be read is refused, never acted on as an
			// empty one (that created a room named "Room", or replayed a
			// dead letter as it was instead of its edited body).
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
			if err := r.ParseForm(); err != nil {
				status := http.StatusBadRequest
				if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
					status = http.StatusRequestEntityTooLarge
				}
				http.Error(w, "unreadable form: "+err.Error(), status)
				return
			}
			got := r.Header.Get(csrfHeader)
			if got == "" {
				got = r.PostFormValue(csrfField)
			}
			if !sameOrigin(r) || subtle.ConstantTimeCompare([]byte(got), []byte(tok)) != 1 {
				http.Error(w, "forbidden: missing or wrong CSRF token", http.StatusForbidden)
				return
			}
		}
		next(w, r, &page{Prefix: c.cfg.Prefix, CSRF: tok, Open: c.cfg.Open(), Flash: r.URL.Query().Get("flash")})
	}
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	if c.cfg.Open() || c.session(r) != "" {
		http.Redirect(w, r, c.cfg.Prefix+"/rooms", http.StatusSeeOther)
		return
	}
	c.render(w, http.StatusOK, "login", &page{Title: "Sign in", Prefix: c.cfg.Prefix})
}

func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		http.Error(w, "forbidden: cross-origin login", http.StatusForbidden)
		return
	}
	if c.cfg.Open() {
		http.Redirect(w, r, c.cfg.Prefix+"/rooms", http.StatusSeeOther)
		return
	}
	if d := c.logins.wait(r); d > 0 {
		secs := int(d.Round(time.Second) / time.Second)
		secs = max(secs, 1)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		c.render(w, http.StatusTooManyRequests, "login", &page{Title: "Sign in", Prefix: c.cfg.Prefix,
			Error: fmt.Sprintf("Too many failed logins from your address: try again in %d s.", secs)})
		return
	}
	if !c.secretOK(r.PostFormValue("secret")) {
		c.logins.failed(r)
		c.cfg.Log.WithField("remote", r.RemoteAddr).Warn("console: failed login")
		c.render(w, http.StatusUnauthorized, "login", &page{Title: "Sign in", Prefix: c.cfg.Prefix, Error: "That is neither an API key nor the console password."})
		return
	}
	c.setCookie(w, r, c.newSession(time.Now()), int(c.cfg.SessionTTL/time.Second))
	http.Redirect(w, r, c.cfg.Prefix+"/rooms", http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request, _ *page) {
	c.setCookie(w, r, "", -1)
	http.Redirect(w, r, c.cfg.Prefix+"/login", http.StatusSeeOther)
}
