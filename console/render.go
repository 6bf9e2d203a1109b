package console

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"math"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/authserver/authserver/authserver"
	"github.com/authserver/authserver/authserver/accounts"
	"github.com/authserver/authserver/httpform"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// view is what every page template receives: the layout's fields and the
// page's own Data.
type view struct {
	Title   string
	Section string
	Actor   authserver.Actor
	// CanWrite: the role may change things (admin, owner); a viewer's
	// pages carry no action buttons.
	CanWrite bool
	CSRF     string
	Flash    *flash
	Now      time.Time
	Data     any
}

// pageNames are the templates under templates/, each rendered inside
// layout.html with partials.html.
var pageNames = []string{
	"signin", "apps", "app_new", "app", "secret_shown", "confirm_delete",
	"keys", "audit", "token", "error",
}

var funcs = template.FuncMap{
	"when":   whenHTML,
	"ts":     formatTime,
	"join":   strings.Join,
	"iso":    func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"status": statusClass,
	"deref":  func(t *time.Time) time.Time { return derefTime(t) },
	"dur":    humanDuration,
	"f1":     func(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) },
	"add":    func(a, b float64) float64 { return a + b },
	"sub":    func(a, b float64) float64 { return a - b },
}

func parsePages() (map[string]*template.Template, error) {
	pages := map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS,
			"templates/layout.html", "templates/partials.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("console: parse template %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// render writes page name with status; the page is rendered into a buffer
// first so that a template error never sends half a page.
func (c *Console) render(w http.ResponseWriter, status int, name string, v view) {
	if v.Now.IsZero() {
		v.Now = c.o.Now()
	}
	var buf bytes.Buffer
	if err := c.pages[name].ExecuteTemplate(&buf, "layout", v); err != nil {
		c.o.Log.Error("console template failed", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// show renders a page for a signed-in operator, with the session's
// one-time notice.
func (c *Console) show(q *request, status int, name, title, section string, data any) {
	c.render(q.w, status, name, view{
		Title: title, Section: section, Actor: q.actor,
		CanWrite: accounts.RoleAllows(q.actor.Role, accounts.RoleAdmin),
		CSRF:     q.sess.csrf, Flash: c.sessions.takeFlash(q.sid), Data: data,
	})
}

// errorPage is the data of error.html.
type errorPage struct {
	Status  int
	Heading string
	Message string
}

func (c *Console) forbidden(q *request, msg string) {
	c.show(q, http.StatusForbidden, "error", "Forbidden", "", errorPage{http.StatusForbidden, "Forbidden", msg})
}

// plainForbidden refuses a request before its session is known.
func (c *Console) plainForbidden(w http.ResponseWriter, r *http.Request, msg string) {
	c.render(w, http.StatusForbidden, "error", view{Title: "Forbidden", Data: errorPage{http.StatusForbidden, "Forbidden", msg}})
}

// formError reads a form POST's body strictly (httpform.Read) before
// anything looks at it, so that a parameter that does not decode is never
// read as absent. It returns "" or what is wrong with the body, for a 400
// page; the console's own pages never send such a body.
func formError(r *http.Request) string {
	if bad := httpform.Read(r); bad != nil {
		return bad.Description
	}
	return ""
}

// badRequest refuses a form whose body does not decode.
func (c *Console) badRequest(q *request, msg string) {
	c.show(q, http.StatusBadRequest, "error", "Bad request", "", errorPage{http.StatusBadRequest, "Bad request", msg})
}

// plainBadRequest refuses a form whose body does not decode, before its
// session is known.
func (c *Console) plainBadRequest(w http.ResponseWriter, msg string) {
	c.render(w, http.StatusBadRequest, "error", view{Title: "Bad request", Data: errorPage{http.StatusBadRequest, "Bad request", msg}})
}

func (c *Console) notFound(w http.ResponseWriter, r *http.Request) {
	if _, s, actor, ok := c.session(r); ok {
		c.render(w, http.StatusNotFound, "error", view{
			Title: "Not found", Actor: actor, CSRF: s.csrf,
			CanWrite: accounts.RoleAllows(actor.Role, accounts.RoleAdmin),
			Data:     errorPage{http.StatusNotFound, "Not found", "There is no such page in the console."},
		})
		return
	}
	c.render(w, http.StatusNotFound, "error", view{Title: "Not found", Data: errorPage{http.StatusNotFound, "Not found", "There is no such page in the console."}})
}

// failPage shows a domain error that has no page to return to (a missing
// app, the database down) with the status the admin API would answer.
func (c *Console) failPage(q *request, err error) {
	status, heading, msg := describe(err)
	c.show(q, status, "error", heading, "", errorPage{status, heading, msg})
}

// describe turns a domain error into a status, a heading and an
// operator-facing message. Domain messages never hold a secret.
func describe(err error) (int, string, string) {
	e := authserver.AsError(err)
	if e == nil {
		return http.StatusInternalServerError, "Something went wrong", "The request failed; the server log has the details."
	}
	switch e.Kind {
	case authserver.KindInvalid:
		return http.StatusBadRequest, "Not accepted", e.Message + " (" + e.Code + ")"
	case authserver.KindNotFound:
		return http.StatusNotFound, "Not found", e.Message + " (" + e.Code + ")"
	case authserver.KindConflict:
		return http.StatusConflict, "Not allowed now", e.Message + " (" + e.Code + ")"
	case authserver.KindForbidden:
		return http.StatusForbidden, "Forbidden", e.Message
	case authserver.KindUnavailable:
		return http.StatusServiceUnavailable, "Database unavailable", "The database cannot be reached; nothing was changed. Try again shortly."
	}
	return http.StatusInternalServerError, "Something went wrong", e.Message
}

// done ends an action: a notice (ok, or the refusal's message) for the
// next page, and a redirect to it (303, so a reload repeats nothing).
func (c *Console) done(q *request, to string, err error, okText string) {
	if err != nil {
		_, _, msg := describe(err)
		c.sessions.setFlash(q.sid, flash{Kind: "error", Text: msg})
	} else {
		c.sessions.setFlash(q.sid, flash{Kind: "ok", Text: okText})
	}
	http.Redirect(q.w, q.r, to, http.StatusSeeOther)
}

// serveStatic serves the embedded stylesheet and script.
func serveStatic(w http.ResponseWriter, r *http.Request) {
	name := path.Clean(r.PathValue("file"))
	b, err := fs.ReadFile(staticFS, "static/"+name)
	if err != nil || strings.Contains(name, "/") {
		http.NotFound(w, r)
		return
	}
	switch path.Ext(name) {
	case ".css":
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
	case ".js":
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	default:
		w.Header().Set("Content-Type", "application/octet-stream")
	}
	// Small and embedded: revalidate on every page, never stale after an
	// upgrade.
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(b)
}

func derefTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

// formatTime renders t as "2006-01-02 15:04 UTC", "—" for the zero time.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// relative renders t relative to now: "in 3 days", "5 min ago".
func relative(now, t time.Time) string {
	d := t.Sub(now)
	future := d > 0
	if !future {
		d = -d
	}
	var s string
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		s = plural(int(math.Round(d.Minutes())), "min")
	case d < 48*time.Hour:
		s = plural(int(math.Round(d.Hours())), "hour")
	default:
		s = plural(int(math.Round(d.Hours()/24)), "day")
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

func plural(n int, unit string) string {
	if n == 1 || unit == "min" {
		return fmt.Sprintf("%d %s", n, unit)
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// whenHTML renders a time (time.Time or *time.Time) as a <time> element
// with its relative distance from now; "—" when absent.
func whenHTML(now time.Time, v any) template.HTML {
	var t time.Time
	switch x := v.(type) {
	case time.Time:
		t = x
	case *time.Time:
		t = derefTime(x)
	}
	if t.IsZero() {
		return `<span class="muted">—</span>`
	}
	return template.HTML(fmt.Sprintf(`<time datetime="%s">%s</time> <span class="muted">(%s)</span>`,
		template.HTMLEscapeString(t.UTC().Format(time.RFC3339)),
		template.HTMLEscapeString(formatTime(t)),
		template.HTMLEscapeString(relative(now, t))))
}

// humanDuration renders a Go duration string ("720h0m0s") as "30 days",
// "24 hours" or, when not whole hours, as Go writes it; "0s" as "off".
func humanDuration(s string) string {
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		return s
	case d == 0:
		return "off"
	case d%(24*time.Hour) == 0 && d >= 48*time.Hour:
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	case d%time.Hour == 0:
		return plural(int(d/time.Hour), "hour")
	}
	return d.String()
}

// statusClass is the CSS class of a status badge.
func statusClass(s string) string {
	switch s {
	case "active", "success", "enabled":
		return "badge ok"
	case "next", "rotating":
		return "badge info"
	case "retired", "expired", "disabled":
		return "badge muted"
	case "inactive":
		return "badge warn"
	}
	return "badge"
}
