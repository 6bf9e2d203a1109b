package main

import (
	"context"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/authserver/authserver/adminapi/client"
)

func newAuditCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Read the credential lifecycle audit log"}
	cf := addClientFlags(cmd)
	var app, actor, action string
	var pf pageFlags
	list := &cobra.Command{
		Use:   "list [--app APP_ID] [--actor KEY_ID] [--action ACTION]",
		Short: "List audit events, newest first, a page at a time",
		Long: `Every lifecycle event (app.create, app.update, app.disable, app.enable,
secret.create, secret.rotate, secret.discard, secret.reactivate,
secret.delete, account_key.create, account_key.delete) with its actor,
target, time, source address and outcome. Refusals and failed
authentications are counted: one event per distinct failure and minute,
with its count in the detail.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p := client.ListAuditEventsParams{App: optional(app), Actor: optional(actor), Action: optional(action)}
			p.After, p.Limit = pf.params()
			return show(cmd, cf, func(ctx context.Context, c *adminClient) (*http.Response, error) {
				return c.ListAuditEvents(ctx, &p)
			}, func(out io.Writer, l client.AuditEventList) error {
				return pageTable([]string{"TIME", "ACTOR", "ACTION", "TARGET", "APP", "SOURCE", "OUTCOME", "DETAIL"}, func(e client.AuditEvent) []string {
					return []string{e.Time.Format(time.RFC3339), e.Actor, e.Action, orDash(deref(e.Target)), orDash(deref(e.AppID)),
						orDash(deref(e.Source)), e.Outcome, formatDetail(e.Detail)}
				}, l.Items, l.NextAfter)(out)
			})
		},
	}
	f := list.Flags()
	f.StringVar(&app, "app", "", "only events of this app")
	f.StringVar(&actor, "actor", "", "only events of this actor (account key id, anonymous, system)")
	f.StringVar(&action, "action", "", "only this action, e.g. secret.rotate")
	pf.define(list, "cursor: events older than this event id")
	cmd.AddCommand(list)
	return cmd
}

func formatDetail(detail *map[string]string) string {
	if detail == nil || len(*detail) == 0 {
		return "-"
	}
	d := *detail
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+d[k])
	}
	return strings.Join(parts, " ")
}
