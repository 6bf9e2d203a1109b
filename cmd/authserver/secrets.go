package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/authserver/authserver/adminapi/client"
	"github.com/authserver/authserver/authserver/apps"
)

// newSecretsCommand is "authserver apps secrets": the secret lifecycle of
// one app (docs/admin-api.md, "Secrets: the rules").
func newSecretsCommand(cf *clientFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secrets",
		Short: "Create, rotate, discard, reactivate and delete an app's secrets",
		Long: `An app has at most two active secrets and one inactive (discarded) one, and
always keeps an active one. Rotating creates a new secret and lets the
current one work for a grace period (default 24h); discarding stops a
secret at once (it can be reactivated); only an inactive secret can be
deleted. Secrets are shown once, at creation, and masked everywhere else.`,
	}
	cmd.AddCommand(newSecretsListCommand(cf), newSecretsCreateCommand(cf), newSecretsRotateCommand(cf),
		newSecretTransitionCommand(cf, "discard", "Discard a secret: it is refused at once and can be reactivated"),
		newSecretTransitionCommand(cf, "reactivate", "Reactivate a discarded secret"),
		newSecretsDeleteCommand(cf))
	return cmd
}

func newSecretsListCommand(cf *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "list APP_ID",
		Short: "List an app's secrets, masked, with status, last use and expiry",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return show(cmd, cf, func(ctx context.Context, c *adminClient) (*http.Response, error) {
				return c.ListSecrets(ctx, args[0])
			}, func(out io.Writer, l client.SecretList) error {
				return printSecretsTable(out, l.Items)
			})
		},
	}
}

// printCreatedSecret prints a new secret: its plaintext, once, or the
// replay notice when the request repeated an earlier one.
func printCreatedSecret(out io.Writer, s client.CreatedSecret, extra ...[2]string) error {
	fields := [][2]string{{"secret_id", s.SecretID}}
	if s.Replay != nil {
		fields = append(fields, [2]string{"secret", s.Masked}, [2]string{"replayed", string(s.Replay.Code) + ": " + s.Replay.Message})
	} else {
		fields = append(fields, [2]string{"client_secret", deref(s.ClientSecret)})
	}
	fields = append(fields, [2]string{"status", string(s.Status)})
	fields = append(fields, extra...)
	if s.Replay == nil {
		fields = append(fields, [2]string{"note", "the client_secret is shown only once; store it now"})
	}
	return printFields(out, fields)
}

func newSecretsCreateCommand(cf *clientFlags) *cobra.Command {
	var idemKey string
	cmd := &cobra.Command{
		Use:   "create APP_ID",
		Short: "Add an active secret to an app (at most two active); prints it once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return show(cmd, cf, func(ctx context.Context, c *adminClient) (*http.Response, error) {
				return c.CreateSecret(ctx, args[0], &client.CreateSecretParams{IdempotencyKey: optional(idemKey)}, client.CreateSecretJSONRequestBody{})
			}, func(out io.Writer, s client.CreatedSecret) error {
				return printCreatedSecret(out, s)
			})
		},
	}
	addIdempotencyFlag(cmd, &idemKey)
	return cmd
}

func newSecretsRotateCommand(cf *clientFlags) *cobra.Command {
	var idemKey string
	var grace time.Duration
	cmd := &cobra.Command{
		Use:   "rotate APP_ID [SECRET_ID]",
		Short: "Create a new secret; the current one (or SECRET_ID) keeps working for the grace period",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var req client.SecretRotation
			if len(args) == 2 {
				req.SecretID = &args[1]
			}
			if cmd.Flags().Changed("grace-period") {
				req.GracePeriod = optional(grace.String())
			}
			return show(cmd, cf, func(ctx context.Context, c *adminClient) (*http.Response, error) {
				return c.RotateSecret(ctx, args[0], &client.RotateSecretParams{IdempotencyKey: optional(idemKey)}, req)
			}, printRotatedSecret)
		},
	}
	cmd.Flags().DurationVar(&grace, "grace-period", apps.DefaultGracePeriod, "how long the rotated secret keeps working (0s stops it at once; at most 720h)")
	addIdempotencyFlag(cmd, &idemKey)
	return cmd
}

// printRotatedSecret prints the new secret of a rotation and the id and
// expiry of the secret it rotated.
func printRotatedSecret(out io.Writer, r client.RotatedSecret) error {
	var extra [][2]string
	if r.Rotated != nil {
		exp := "-"
		if r.Rotated.ExpiresAt != nil {
			exp = r.Rotated.ExpiresAt.Format(time.RFC3339)
		}
		extra = append(extra, [2]string{"rotated_secret_id", r.Rotated.SecretID}, [2]string{"rotated_expires_at", exp})
	}
	return printCreatedSecret(out, client.CreatedSecret{
		SecretID: r.SecretID, Masked: r.Masked, Status: client.CreatedSecretStatus(r.Status), CreatedAt: r.CreatedAt,
		ExpiresAt: r.ExpiresAt, LastUsedAt: r.LastUsedAt, ClientSecret: r.ClientSecret, Replay: r.Replay,
	}, extra...)
}

func newSecretTransitionCommand(cf *clientFlags, action, short string) *cobra.Command {
	return &cobra.Command{
		Use:   action + " APP_ID SECRET_ID",
		Short: short,
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			table := func(out io.Writer, s client.Secret) error { return printSecretsTable(out, []client.Secret{s}) }
			if action == "reactivate" {
				return show(cmd, cf, func(ctx context.Context, c *adminClient) (*http.Response, error) {
					return c.ReactivateSecret(ctx, args[0], args[1], client.ReactivateSecretJSONRequestBody{})
				}, table)
			}
			return show(cmd, cf, func(ctx context.Context, c *adminClient) (*http.Response, error) {
				return c.DiscardSecret(ctx, args[0], args[1], client.DiscardSecretJSONRequestBody{})
			}, table)
		},
	}
}

func newSecretsDeleteCommand(cf *clientFlags) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "delete APP_ID SECRET_ID --yes",
		Short: "Delete an inactive secret for good (tokens it minted stay invalid)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !yes {
				return fmt.Errorf("deleting a secret cannot be undone: repeat with --yes to confirm")
			}
			return remove(cmd, cf, func(ctx context.Context, c *adminClient) (*http.Response, error) {
				return c.DeleteSecret(ctx, args[0], args[1], &client.DeleteSecretParams{Confirm: args[1]})
			}, map[string]string{"deleted": args[1]}, "deleted "+args[1])
		},
	}
	cmd.Flags().BoolVar(&yes, "yes", false, "confirm the deletion")
	return cmd
}

// addIdempotencyFlag defines --idempotency-key: a retry of the command
// with the same key creates nothing new and shows the first result masked.
func addIdempotencyFlag(cmd *cobra.Command, key *string) {
	cmd.Flags().StringVar(key, "idempotency-key", "", "Idempotency-Key header: retrying with the same key (within 24h) creates nothing new")
}
