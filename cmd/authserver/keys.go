package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/authserver/authserver/adminapi/client"
)

func newKeysCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Manage the token signing keys (the JWKS) through the admin API",
		Long: `Signing keys move next (in the JWKS, not signing) -> active (signs) ->
retired (in the JWKS until every token it signed has expired) -> removed,
on the schedule of keys.rotation_period, keys.publish_ahead and
keys.retention. To pull a compromised key: "keys rotate --immediate" if it
is the active one, then "keys discard -- KID". Kids go after "--": a kid
is a base64url thumbprint, and one in 64 begins with "-".`,
	}
	cf := addClientFlags(cmd)
	cmd.AddCommand(newKeysListCommand(cf), newKeysRotateCommand(cf),
		newKeyTransitionCommand(cf, "discard", "Unpublish a next or retired key at once; its tokens stop verifying (reversible)"),
		newKeyTransitionCommand(cf, "reactivate", "Bring a discarded key back to the state it was discarded from"),
		newKeysDeleteCommand(cf))
	return cmd
}

func newKeysListCommand(cf *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the signing keys and their states (never private material)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return show(cmd, cf, func(ctx context.Context, c *adminClient) (*http.Response, error) {
				return c.ListSigningKeys(ctx)
			}, func(out io.Writer, l client.SigningKeyListing) error {
				if err := printKeysTable(out, l.Items); err != nil {
					return err
				}
				_, err := fmt.Fprintf(out, "\nnew keys: %s; rotation every %s, published %s ahead, kept %s after retirement\n",
					l.Algorithm, l.RotationPeriod, l.PublishAhead, l.Retention)
				return err
			})
		},
	}
}

func newKeysRotateCommand(cf *clientFlags) *cobra.Command {
	var immediate bool
	cmd := &cobra.Command{
		Use:   "rotate [--immediate]",
		Short: "Start a rotation now",
		Long: `Without --immediate the rotation keeps the overlap: a new next key is
published now and signs after keys.publish_ahead (a pending next key is
brought forward instead), so no verifier ever sees an unknown kid.

With --immediate (after a compromise) a fresh key signs at once and the
active key retires; verifiers that refetch the JWKS on an unknown kid, as
they should, keep working. Discard the old key to also reject its tokens.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return show(cmd, cf, func(ctx context.Context, c *adminClient) (*http.Response, error) {
				return c.RotateSigningKeys(ctx, client.SigningKeyRotation{Immediate: &immediate})
			}, printRotateResult)
		},
	}
	cmd.Flags().BoolVar(&immediate, "immediate", false, "sign with a fresh key at once (after a compromise) instead of after the publish-ahead overlap")
	return cmd
}

// printRotateResult prints the key ids a rotation left and every key.
func printRotateResult(out io.Writer, res client.SigningKeyRotated) error {
	fields := [][2]string{{"active_kid", res.ActiveKid}}
	if res.NextKid != nil && *res.NextKid != "" {
		fields = append(fields, [2]string{"next_kid", *res.NextKid}, [2]string{"activate_at", fmtTime(res.ActivateAt)})
	}
	if err := printFields(out, fields); err != nil {
		return err
	}
	_, _ = io.WriteString(out, "\n")
	return printKeysTable(out, res.Items)
}

// newKeyTransitionCommand is "keys discard KID" or "keys reactivate KID".
func newKeyTransitionCommand(cf *clientFlags, verb, short string) *cobra.Command {
	return &cobra.Command{
		Use:   verb + " -- KID",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			table := func(out io.Writer, k client.SigningKey) error { return printKeysTable(out, []client.SigningKey{k}) }
			if verb == "reactivate" {
				return show(cmd, cf, func(ctx context.Context, c *adminClient) (*http.Response, error) {
					return c.ReactivateSigningKey(ctx, args[0])
				}, table)
			}
			return show(cmd, cf, func(ctx context.Context, c *adminClient) (*http.Response, error) {
				return c.DiscardSigningKey(ctx, args[0])
			}, table)
		},
	}
}

func newKeysDeleteCommand(cf *clientFlags) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "delete --yes -- KID",
		Short: "Destroy an inactive (discarded) key for good; its tokens can never verify again",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !yes {
				return fmt.Errorf("deleting signing key %s is irreversible: repeat with --yes to confirm", args[0])
			}
			return remove(cmd, cf, func(ctx context.Context, c *adminClient) (*http.Response, error) {
				return c.DeleteSigningKey(ctx, args[0], &client.DeleteSigningKeyParams{Confirm: args[0]})
			}, map[string]any{"kid": args[0], "deleted": true}, "deleted signing key "+args[0])
		},
	}
	cmd.Flags().BoolVar(&yes, "yes", false, "confirm the irreversible deletion")
	return cmd
}

func newKEKCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "kek",
		Short: "Key-encryption key: status and re-sealing of the private signing keys",
		Long: `To introduce a new key-encryption key without downtime: give every
instance the new one in kek and the old one in kek_previous (a rolling
restart), run "authserver kek rotate" once, check with "authserver kek
status" that no signing key is left under the old id, then drop it from
kek_previous.`,
	}
	cf := addClientFlags(cmd)
	status := &cobra.Command{
		Use:   "status",
		Short: "Show the current KEK id and how many signing keys each KEK seals",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return show(cmd, cf, func(ctx context.Context, c *adminClient) (*http.Response, error) {
				return c.GetKEK(ctx)
			}, func(out io.Writer, st client.KEKStatus) error {
				return printKEKStatus(out, st, false)
			})
		},
	}
	rotate := &cobra.Command{
		Use:   "rotate",
		Short: "Re-seal every private signing key under the current KEK",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return show(cmd, cf, func(ctx context.Context, c *adminClient) (*http.Response, error) {
				return c.RotateKEK(ctx)
			}, func(out io.Writer, st client.KEKStatus) error {
				return printKEKStatus(out, st, true)
			})
		},
	}
	cmd.AddCommand(status, rotate)
	return cmd
}

// printKEKStatus prints the current KEK id, how many signing keys each KEK
// seals and, after a rotation, how many were resealed.
func printKEKStatus(out io.Writer, st client.KEKStatus, resealed bool) error {
	fields := [][2]string{{"current_kek_id", st.CurrentKekID}}
	if resealed {
		fields = append(fields, [2]string{"resealed", strconv.Itoa(st.Resealed)})
	}
	if err := printFields(out, fields); err != nil {
		return err
	}
	ids := make([]string, 0, len(st.SigningKeysByKek))
	for id := range st.SigningKeysByKek {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	rows := make([][]string, 0, len(ids))
	for _, id := range ids {
		note := ""
		if id != st.CurrentKekID {
			note = "previous: run kek rotate"
		}
		rows = append(rows, []string{id, strconv.Itoa(st.SigningKeysByKek[id]), note})
	}
	_, _ = io.WriteString(out, "\n")
	return printTable(out, []string{"KEK_ID", "SIGNING_KEYS", ""}, rows)
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// printKeysTable shows one row per key; WHEN is the time that matters for
// its state: when a next key signs, when an active key started, when a
// retired key leaves the JWKS, when an inactive key was discarded.
func printKeysTable(out io.Writer, keys []client.SigningKey) error {
	rows := make([][]string, 0, len(keys))
	for _, k := range keys {
		when := "-"
		switch k.State {
		case client.SigningKeyStateNext:
			when = "signs from " + fmtTime(k.ActivateAt)
		case client.SigningKeyStateActive:
			when = "since " + fmtTime(k.ActivatedAt)
		case client.SigningKeyStateRetired:
			when = "removed at " + fmtTime(k.RemoveAt)
		case client.SigningKeyStateInactive:
			prior := ""
			if k.PriorState != nil {
				prior = string(*k.PriorState)
			}
			when = "discarded " + fmtTime(k.DiscardedAt) + " (was " + prior + ")"
		}
		rows = append(rows, []string{k.Kid, string(k.Alg), string(k.State), strconv.FormatBool(k.Published), when, k.KekID})
	}
	return printTable(out, []string{"KID", "ALG", "STATE", "PUBLISHED", "WHEN", "KEK_ID"}, rows)
}
