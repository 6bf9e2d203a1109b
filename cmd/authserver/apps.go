package main

import (
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/authserver/authserver/authserver"
)

func newAppsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "apps", Short: "Manage apps (OAuth clients) through the admin API"}
	cf := addClientFlags(cmd)
	cmd.AddCommand(newAppsCreateCommand(cf), newAppsListCommand(cf), newAppsGetCommand(cf),
		newAppsUpdateCommand(cf), newAppsEnabledCommand(cf, false), newAppsEnabledCommand(cf, true),
		newSecretsCommand(cf))
	return cmd
}

func newAppsCreateCommand(cf *clientFlags) *cobra.Command {
	var req struct {
		Name                string   `json:"name"`
		Environment         string   `json:"environment"`
		Scopes              []string `json:"scopes"`
		Audiences           []string `json:"audiences"`
		Origins             []string `json:"origins,omitempty"`
		AccessTokenLifetime string   `json:"access_token_lifetime,omitempty"`
		UserTokenLifetime   string   `json:"user_token_lifetime,omitempty"`
	}
	var idemKey string
	cmd := &cobra.Command{
		Use:   "create --name NAME [--scope SCOPE]... [--audience AUD]...",
		Short: "Register an app; prints its client_id and client_secret (shown once)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return fetchAndPrint(cmd, cf, http.MethodPost, "/admin/v1/apps", req, printCreatedApp, idempotencyHeader(idemKey)...)
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.Name, "name", "", "app name (required)")
	f.StringVar(&req.Environment, "environment", "live", "live or test")
	f.StringArrayVar(&req.Scopes, "scope", nil, "a scope the app may request (repeatable)")
	f.StringArrayVar(&req.Audiences, "audience", nil, "an audience (resource) the app may request (repeatable)")
	f.StringArrayVar(&req.Origins, "origin", nil, "a browser origin allowed for the app's user tokens (repeatable)")
	f.StringVar(&req.AccessTokenLifetime, "access-token-lifetime", "", "lifetime of the app's tokens, e.g. 30m (default: server's)")
	f.StringVar(&req.UserTokenLifetime, "user-token-lifetime", "", "lifetime of the app's user tokens (default: server's)")
	_ = cmd.MarkFlagRequired("name")
	addIdempotencyFlag(cmd, &idemKey)
	return cmd
}

// printCreatedApp prints a new app with its secret, once, or the replay
// notice when the request repeated an earlier one.
func printCreatedApp(out io.Writer, created authserver.CreatedApp) error {
	secret, note := [2]string{"client_secret", created.ClientSecret}, [2]string{"note", "the client_secret is shown only once; store it now"}
	if created.Replay != nil {
		secret, note = [2]string{"replayed", created.Replay.Code}, [2]string{"note", created.Replay.Message}
	}
	return printFields(out, [][2]string{
		{"app_id", created.ID},
		{"client_id", created.ClientID},
		secret,
		{"secret_id", created.SecretID},
		{"environment", created.Environment},
		{"scopes", strings.Join(created.Scopes, " ")},
		{"audiences", strings.Join(created.Audiences, " ")},
		note,
	})
}

func newAppsListCommand(cf *clientFlags) *cobra.Command {
	var name string
	var pf pageFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List apps, a page at a time",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return listPage(cmd, cf, "/admin/v1/apps?"+pf.query(map[string]string{"name": name}),
				[]string{"APP_ID", "NAME", "ENV", "ENABLED", "SCOPES", "ACTIVE_SECRETS"}, appRow)
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "only apps whose name starts with this")
	pf.define(cmd, "cursor: list apps after this app id")
	return cmd
}

// appRow is an app's line in "apps list", with its count of active secrets.
func appRow(a authserver.AppView) []string {
	active := 0
	for _, s := range a.Secrets {
		if s.Status == authserver.StatusActive {
			active++
		}
	}
	return []string{a.ID, a.Name, a.Environment, strconv.FormatBool(a.Enabled), strings.Join(a.Scopes, " "), strconv.Itoa(active)}
}

func newAppsGetCommand(cf *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "get APP_ID",
		Short: "Show an app and its masked secrets",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return fetchAndPrint(cmd, cf, http.MethodGet, "/admin/v1/apps/"+url.PathEscape(args[0]), nil, printApp)
		},
	}
}

// printApp prints an app with its masked secrets.
func printApp(out io.Writer, app authserver.AppView) error {
	if err := printFields(out, [][2]string{
		{"app_id", app.ID}, {"name", app.Name}, {"environment", app.Environment},
		{"enabled", strconv.FormatBool(app.Enabled)}, {"scopes", strings.Join(app.Scopes, " ")},
		{"audiences", strings.Join(app.Audiences, " ")}, {"origins", strings.Join(app.Origins, " ")},
		{"access_token_lifetime", orDash(app.AccessTokenLifetime)}, {"user_token_lifetime", orDash(app.UserTokenLifetime)},
	}); err != nil {
		return err
	}
	return printSecretsTable(out, app.Secrets)
}

func newAppsUpdateCommand(cf *clientFlags) *cobra.Command {
	var name, accessLifetime, userLifetime string
	var scopes, audiences, origins []string
	cmd := &cobra.Command{
		Use:   "update APP_ID [--name NAME] [--scope S]... [--audience A]... [--origin O]...",
		Short: "Change an app's name, allowed scopes, audiences, origins or token lifetimes",
		Long: `Only the flags given change. A list flag replaces the whole list; give it
once with an empty value (--scope=) to clear it. A lifetime of "" returns
to the server default.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := map[string]any{}
			f := cmd.Flags()
			if f.Changed("name") {
				req["name"] = name
			}
			for flag, l := range map[string][]string{"scope": scopes, "audience": audiences, "origin": origins} {
				if !f.Changed(flag) {
					continue
				}
				vals := []string{}
				for _, v := range l {
					if v != "" {
						vals = append(vals, v)
					}
				}
				req[flag+"s"] = vals
			}
			if f.Changed("access-token-lifetime") {
				req["access_token_lifetime"] = accessLifetime
			}
			if f.Changed("user-token-lifetime") {
				req["user_token_lifetime"] = userLifetime
			}
			return fetchAndPrint(cmd, cf, http.MethodPatch, "/admin/v1/apps/"+url.PathEscape(args[0]), req, printApp)
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "new name")
	f.StringArrayVar(&scopes, "scope", nil, "allowed scope (repeatable; replaces the list)")
	f.StringArrayVar(&audiences, "audience", nil, "allowed audience (repeatable; replaces the list)")
	f.StringArrayVar(&origins, "origin", nil, "allowed browser origin (repeatable; replaces the list)")
	f.StringVar(&accessLifetime, "access-token-lifetime", "", `lifetime of the app's tokens, e.g. 30m ("" for the server default)`)
	f.StringVar(&userLifetime, "user-token-lifetime", "", `lifetime of the app's user tokens ("" for the server default)`)
	return cmd
}

// newAppsEnabledCommand is "apps disable" or "apps enable".
func newAppsEnabledCommand(cf *clientFlags, enable bool) *cobra.Command {
	verb, short := "disable", "Disable an app: every secret is refused and its tokens become inactive"
	if enable {
		verb, short = "enable", "Enable a disabled app again"
	}
	return &cobra.Command{
		Use:   verb + " APP_ID",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return fetchAndPrint(cmd, cf, http.MethodPost, "/admin/v1/apps/"+url.PathEscape(args[0])+"/"+verb, struct{}{}, printApp)
		},
	}
}

// printSecretsTable prints masked secrets, one row each.
func printSecretsTable(out io.Writer, secrets []authserver.SecretView) error {
	return printTable(out, secretsHeader, rowsOf(secrets, secretRow))
}

// secretsHeader heads every table of secrets: "apps get", "apps secrets
// list" and the secret transitions.
var secretsHeader = []string{"SECRET_ID", "SECRET", "STATUS", "CREATED", "LAST_USED", "EXPIRES"}

// secretRow is a masked secret's line under secretsHeader.
func secretRow(s authserver.SecretView) []string {
	exp, used := "-", "-"
	if s.ExpiresAt != nil {
		exp = s.ExpiresAt.Format("2006-01-02T15:04:05Z07:00")
	}
	if s.LastUsedAt != nil {
		used = s.LastUsedAt.Format("2006-01-02T15:04:05Z07:00")
	}
	return []string{s.ID, s.Masked, s.Status, s.CreatedAt.Format("2006-01-02T15:04:05Z07:00"), used, exp}
}
