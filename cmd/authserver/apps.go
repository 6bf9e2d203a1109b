package main

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/authserver/authserver/adminapi/client"
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
	var req client.NewApp
	var environment, accessLifetime, userLifetime, idemKey string
	var scopes, audiences, origins []string
	var dpopBound, dpopNonce bool
	cmd := &cobra.Command{
		Use:   "create --name NAME [--scope SCOPE]... [--audience AUD]...",
		Short: "Register an app; prints its client_id and client_secret (shown once)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			env := client.NewAppEnvironment(environment)
			req.Environment, req.Scopes, req.Audiences, req.Origins = &env, optionalList(scopes), optionalList(audiences), optionalList(origins)
			req.AccessTokenLifetime, req.UserTokenLifetime = optional(accessLifetime), optional(userLifetime)
			req.DpopBoundAccessTokens, req.DpopNonceRequired = &dpopBound, &dpopNonce
			return show(cmd, cf, func(ctx context.Context, c *adminClient) (*http.Response, error) {
				return c.CreateApp(ctx, &client.CreateAppParams{IdempotencyKey: optional(idemKey)}, req)
			}, printCreatedApp)
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.Name, "name", "", "app name (required)")
	f.StringVar(&environment, "environment", "live", "live or test")
	f.StringArrayVar(&scopes, "scope", nil, "a scope the app may request (repeatable)")
	f.StringArrayVar(&audiences, "audience", nil, "an audience (resource) the app may request (repeatable)")
	f.StringArrayVar(&origins, "origin", nil, "a browser origin allowed for the app's user tokens (repeatable)")
	f.StringVar(&accessLifetime, "access-token-lifetime", "", "lifetime of the app's tokens, e.g. 30m (default: server's)")
	f.StringVar(&userLifetime, "user-token-lifetime", "", "lifetime of the app's user tokens (default: server's)")
	addDPoPFlags(f, &dpopBound, &dpopNonce)
	_ = cmd.MarkFlagRequired("name")
	addIdempotencyFlag(cmd, &idemKey)
	return cmd
}

// addDPoPFlags defines the flags of an app's DPoP policy (RFC 9449).
func addDPoPFlags(f *pflag.FlagSet, bound, nonce *bool) {
	f.BoolVar(bound, "dpop-bound-access-tokens", false, "issue the app's tokens only to requests with a DPoP proof, bound to its key (RFC 9449 §5.2)")
	f.BoolVar(nonce, "dpop-nonce-required", false, "require a server nonce in the app's DPoP proofs (RFC 9449 §8)")
}

// optionalList is l as an optional list: nil when empty.
func optionalList(l []string) *[]string {
	if len(l) == 0 {
		return nil
	}
	return &l
}

// printCreatedApp prints a new app with its secret, once, or the replay
// notice when the request repeated an earlier one.
func printCreatedApp(out io.Writer, created client.CreatedApp) error {
	secret, note := [2]string{"client_secret", deref(created.ClientSecret)}, [2]string{"note", "the client_secret is shown only once; store it now"}
	if created.Replay != nil {
		secret, note = [2]string{"replayed", string(created.Replay.Code)}, [2]string{"note", created.Replay.Message}
	}
	return printFields(out, [][2]string{
		{"app_id", created.AppID},
		{"client_id", created.ClientID},
		secret,
		{"secret_id", created.SecretID},
		{"environment", string(created.Environment)},
		{"scopes", strings.Join(created.Scopes, " ")},
		{"audiences", strings.Join(created.Audiences, " ")},
		note,
	})
}

// deref is *s, or "" for nil.
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func newAppsListCommand(cf *clientFlags) *cobra.Command {
	var name string
	var pf pageFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List apps, a page at a time",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p := client.ListAppsParams{Name: optional(name)}
			p.After, p.Limit = pf.params()
			return show(cmd, cf, func(ctx context.Context, c *adminClient) (*http.Response, error) {
				return c.ListApps(ctx, &p)
			}, func(out io.Writer, l client.AppList) error {
				return pageTable([]string{"APP_ID", "NAME", "ENV", "ENABLED", "SCOPES", "ACTIVE_SECRETS"}, appRow, l.Items, l.NextAfter)(out)
			})
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "only apps whose name starts with this")
	pf.define(cmd, "cursor: list apps after this app id")
	return cmd
}

// appRow is an app's line in "apps list", with its count of active secrets.
func appRow(a client.App) []string {
	active := 0
	for _, s := range a.Secrets {
		if s.Status == client.SecretFieldsStatusActive {
			active++
		}
	}
	return []string{a.AppID, a.Name, string(a.Environment), strconv.FormatBool(a.Enabled), strings.Join(a.Scopes, " "), strconv.Itoa(active)}
}

func newAppsGetCommand(cf *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "get APP_ID",
		Short: "Show an app and its masked secrets",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return show(cmd, cf, func(ctx context.Context, c *adminClient) (*http.Response, error) {
				return c.GetApp(ctx, args[0])
			}, printApp)
		},
	}
}

// printApp prints an app with its masked secrets.
func printApp(out io.Writer, app client.App) error {
	if err := printFields(out, [][2]string{
		{"app_id", app.AppID}, {"name", app.Name}, {"environment", string(app.Environment)},
		{"enabled", strconv.FormatBool(app.Enabled)}, {"scopes", strings.Join(app.Scopes, " ")},
		{"audiences", strings.Join(app.Audiences, " ")}, {"origins", strings.Join(app.Origins, " ")},
		{"access_token_lifetime", orDash(deref(app.AccessTokenLifetime))}, {"user_token_lifetime", orDash(deref(app.UserTokenLifetime))},
		{"dpop_bound_access_tokens", strconv.FormatBool(app.DpopBoundAccessTokens)}, {"dpop_nonce_required", strconv.FormatBool(app.DpopNonceRequired)},
	}); err != nil {
		return err
	}
	return printSecretsTable(out, app.Secrets)
}

func newAppsUpdateCommand(cf *clientFlags) *cobra.Command {
	var name, accessLifetime, userLifetime string
	var scopes, audiences, origins []string
	var dpopBound, dpopNonce bool
	cmd := &cobra.Command{
		Use:   "update APP_ID [--name NAME] [--scope S]... [--audience A]... [--origin O]...",
		Short: "Change an app's name, allowed scopes, audiences, origins, token lifetimes or DPoP policy",
		Long: `Only the flags given change. A list flag replaces the whole list; give it
once with an empty value (--scope=) to clear it. A lifetime of "" returns
to the server default. A DPoP flag sets its setting: --dpop-nonce-required
turns it on, --dpop-nonce-required=false off.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var req client.AppUpdate
			f := cmd.Flags()
			if f.Changed("name") {
				req.Name = &name
			}
			for flag, l := range map[string]struct {
				in  []string
				out **[]string
			}{
				"scope": {scopes, &req.Scopes}, "audience": {audiences, &req.Audiences}, "origin": {origins, &req.Origins},
			} {
				if !f.Changed(flag) {
					continue
				}
				vals := []string{}
				for _, v := range l.in {
					if v != "" {
						vals = append(vals, v)
					}
				}
				*l.out = &vals
			}
			if f.Changed("access-token-lifetime") {
				req.AccessTokenLifetime = &accessLifetime
			}
			if f.Changed("user-token-lifetime") {
				req.UserTokenLifetime = &userLifetime
			}
			if f.Changed("dpop-bound-access-tokens") {
				req.DpopBoundAccessTokens = &dpopBound
			}
			if f.Changed("dpop-nonce-required") {
				req.DpopNonceRequired = &dpopNonce
			}
			return show(cmd, cf, func(ctx context.Context, c *adminClient) (*http.Response, error) {
				return c.UpdateApp(ctx, args[0], req)
			}, printApp)
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "new name")
	f.StringArrayVar(&scopes, "scope", nil, "allowed scope (repeatable; replaces the list)")
	f.StringArrayVar(&audiences, "audience", nil, "allowed audience (repeatable; replaces the list)")
	f.StringArrayVar(&origins, "origin", nil, "allowed browser origin (repeatable; replaces the list)")
	f.StringVar(&accessLifetime, "access-token-lifetime", "", `lifetime of the app's tokens, e.g. 30m ("" for the server default)`)
	f.StringVar(&userLifetime, "user-token-lifetime", "", `lifetime of the app's user tokens ("" for the server default)`)
	addDPoPFlags(f, &dpopBound, &dpopNonce)
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
			if enable {
				return show(cmd, cf, func(ctx context.Context, c *adminClient) (*http.Response, error) {
					return c.EnableApp(ctx, args[0], client.EnableAppJSONRequestBody{})
				}, printApp)
			}
			return show(cmd, cf, func(ctx context.Context, c *adminClient) (*http.Response, error) {
				return c.DisableApp(ctx, args[0], client.DisableAppJSONRequestBody{})
			}, printApp)
		},
	}
}

// printSecretsTable prints masked secrets, one row each.
func printSecretsTable(out io.Writer, secrets []client.Secret) error {
	return printTable(out, secretsHeader, rowsOf(secrets, secretRow))
}

// secretsHeader heads every table of secrets: "apps get", "apps secrets
// list" and the secret transitions.
var secretsHeader = []string{"SECRET_ID", "SECRET", "STATUS", "CREATED", "LAST_USED", "EXPIRES"}

// secretRow is a masked secret's line under secretsHeader.
func secretRow(s client.Secret) []string {
	exp, used := "-", "-"
	if s.ExpiresAt != nil {
		exp = s.ExpiresAt.Format("2006-01-02T15:04:05Z07:00")
	}
	if s.LastUsedAt != nil {
		used = s.LastUsedAt.Format("2006-01-02T15:04:05Z07:00")
	}
	return []string{s.SecretID, s.Masked, string(s.Status), s.CreatedAt.Format("2006-01-02T15:04:05Z07:00"), used, exp}
}
