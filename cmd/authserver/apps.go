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
	cmd.AddCommand(newAppsCreateCommand(cf), newAppsListCommand(cf), newAppsGetCommand(cf))
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
	cmd := &cobra.Command{
		Use:   "create --name NAME [--scope SCOPE]... [--audience AUD]...",
		Short: "Register an app; prints its client_id and client_secret (shown once)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			var created authserver.CreatedApp
			if err := c.do(cmd.Context(), http.MethodPost, "/admin/v1/apps", req, &created); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if cf.output == "json" {
				return printJSON(out, created)
			}
			return printFields(out, [][2]string{
				{"app_id", created.ID},
				{"client_id", created.ClientID},
				{"client_secret", created.ClientSecret},
				{"secret_id", created.SecretID},
				{"environment", created.Environment},
				{"scopes", strings.Join(created.Scopes, " ")},
				{"audiences", strings.Join(created.Audiences, " ")},
				{"note", "the client_secret is shown only once; store it now"},
			})
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
	return cmd
}

func newAppsListCommand(cf *clientFlags) *cobra.Command {
	var name, after string
	var limit int
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List apps, a page at a time",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			q := url.Values{}
			if name != "" {
				q.Set("name", name)
			}
			if after != "" {
				q.Set("after", after)
			}
			if limit > 0 {
				q.Set("limit", strconv.Itoa(limit))
			}
			var page struct {
				Items     []authserver.AppView `json:"items"`
				NextAfter string               `json:"next_after,omitempty"`
			}
			if err := c.do(cmd.Context(), http.MethodGet, "/admin/v1/apps?"+q.Encode(), nil, &page); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if cf.output == "json" {
				return printJSON(out, page)
			}
			return printAppsTable(out, page.Items, page.NextAfter)
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "only apps whose name starts with this")
	cmd.Flags().StringVar(&after, "after", "", "cursor: list apps after this app id")
	cmd.Flags().IntVar(&limit, "limit", 0, "page size, 1 to 500 (default 100)")
	return cmd
}

func printAppsTable(out io.Writer, apps []authserver.AppView, next string) error {
	rows := make([][]string, 0, len(apps))
	for _, a := range apps {
		active := 0
		for _, s := range a.Secrets {
			if s.Status == authserver.StatusActive {
				active++
			}
		}
		rows = append(rows, []string{a.ID, a.Name, a.Environment, strconv.FormatBool(a.Enabled),
			strings.Join(a.Scopes, " "), strconv.Itoa(active)})
	}
	if err := printTable(out, []string{"APP_ID", "NAME", "ENV", "ENABLED", "SCOPES", "ACTIVE_SECRETS"}, rows); err != nil {
		return err
	}
	if next != "" {
		_, err := io.WriteString(out, "more: --after "+next+"\n")
		return err
	}
	return nil
}

func newAppsGetCommand(cf *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "get APP_ID",
		Short: "Show an app and its masked secrets",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			var app authserver.AppView
			if err := c.do(cmd.Context(), http.MethodGet, "/admin/v1/apps/"+url.PathEscape(args[0]), nil, &app); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if cf.output == "json" {
				return printJSON(out, app)
			}
			if err := printFields(out, [][2]string{
				{"app_id", app.ID}, {"name", app.Name}, {"environment", app.Environment},
				{"enabled", strconv.FormatBool(app.Enabled)}, {"scopes", strings.Join(app.Scopes, " ")},
				{"audiences", strings.Join(app.Audiences, " ")}, {"origins", strings.Join(app.Origins, " ")},
			}); err != nil {
				return err
			}
			return printSecretsTable(out, app.Secrets)
		},
	}
}

func printSecretsTable(out io.Writer, secrets []authserver.SecretView) error {
	rows := make([][]string, 0, len(secrets))
	for _, s := range secrets {
		exp, used := "-", "-"
		if s.ExpiresAt != nil {
			exp = s.ExpiresAt.Format("2006-01-02T15:04:05Z07:00")
		}
		if s.LastUsedAt != nil {
			used = s.LastUsedAt.Format("2006-01-02T15:04:05Z07:00")
		}
		rows = append(rows, []string{s.ID, s.Masked, s.Status, s.CreatedAt.Format("2006-01-02T15:04:05Z07:00"), used, exp})
	}
	return printTable(out, []string{"SECRET_ID", "SECRET", "STATUS", "CREATED", "LAST_USED", "EXPIRES"}, rows)
}
