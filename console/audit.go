package console

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/authserver/authserver/authserver/audit"
	"github.com/authserver/authserver/authserver/signingkeys"
)

// auditPageSize is how many events one page of the audit log shows.
const auditPageSize = 50

// auditActions are offered in the action filter (docs/admin-api.md,
// "Audit log"); the filter matches exactly.
var auditActions = []string{
	"app.create", "app.update", "app.disable", "app.enable",
	"secret.create", "secret.rotate", "secret.discard", "secret.reactivate", "secret.delete",
	"account_key.create", "account_key.delete",
	signingkeys.ActionKeyPublish, signingkeys.ActionKeyActivate, signingkeys.ActionKeyRetire, signingkeys.ActionKeyRemove,
	signingkeys.ActionKeyReschedule, signingkeys.ActionKeyDiscard, signingkeys.ActionKeyReactivate, signingkeys.ActionKeyDelete,
	signingkeys.ActionKeyReseal,
	"admin.request", "admin.authenticate", "console.signin", "console.signout",
}

// auditData is the data of audit.html.
type auditData struct {
	App, Actor, Action string
	Actions            []string
	Events             []auditRow
	Next, First        string
}

type auditRow struct {
	audit.EventView
	// Details is Detail as "key=value" pairs, sorted.
	Details []string
}

// auditPage lists the audit log newest first, filtered by app, actor and
// action (each exact), a page at a time.
func (c *Console) auditPage(q *request) {
	v := q.r.URL.Query()
	d := auditData{
		App: strings.TrimSpace(v.Get("app")), Actor: strings.TrimSpace(v.Get("actor")), Action: strings.TrimSpace(v.Get("action")),
		Actions: auditActions,
	}
	after := v.Get("after")
	events, next, err := c.o.Audit.ListEvents(q.r.Context(), audit.Query{
		AppID: d.App, Actor: d.Actor, Action: d.Action, After: after, Limit: auditPageSize,
	})
	if err != nil {
		c.failPage(q, err)
		return
	}
	for _, e := range events {
		row := auditRow{EventView: e}
		for k, val := range e.Detail {
			row.Details = append(row.Details, k+"="+val)
		}
		slices.Sort(row.Details)
		d.Events = append(d.Events, row)
	}
	filter := url.Values{}
	for k, val := range map[string]string{"app": d.App, "actor": d.Actor, "action": d.Action} {
		if val != "" {
			filter.Set(k, val)
		}
	}
	if next != "" {
		nv := url.Values{"after": {next}}
		for k := range filter {
			nv.Set(k, filter.Get(k))
		}
		d.Next = "/console/audit?" + nv.Encode()
	}
	if after != "" {
		d.First = "/console/audit?" + filter.Encode()
	}
	c.show(q, http.StatusOK, "audit", "Audit log", "audit", d)
}
