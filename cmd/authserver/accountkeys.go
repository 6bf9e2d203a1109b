package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/authserver/authserver/adminapi/client"
	"github.com/authserver/authserver/authserver/accounts"
	"github.com/authserver/authserver/authserver/credential"
)

func newAccountKeysCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "account-keys",
		Short: "Manage account keys (admin API credentials; owner keys only)",
		Long: `Account keys authenticate the admin API and this CLI. Roles: viewer (reads
masked metadata), admin (also manages apps and secrets), owner (also
manages account keys). An owner key always remains.`,
	}
	cf := addClientFlags(cmd)
	cmd.AddCommand(newAccountKeysCreateCommand(cf), newAccountKeysListCommand(cf), newAccountKeysDeleteCommand(cf),
		newAccountKeysGenerateCommand())
	return cmd
}

// newAccountKeysGenerateCommand prints a fresh account key without any
// server: the owner key of a deployment's first start (owner_key_file).
func newAccountKeysGenerateCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "generate",
		Short: "Print a new owner key for owner_key_file (offline: contacts no server)",
		Long: `Prints a new, random account key. It authorises nothing until a server
creates the account with it: put it in the file named by owner_key_file
(for instance a Kubernetes Secret) before the first start on an empty
database. Keep it in your secret manager; the server stores only its digest.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), credential.NewAccountKey())
			return err
		},
	}
}

func newAccountKeysCreateCommand(cf *clientFlags) *cobra.Command {
	var req client.NewAccountKey
	var role, idemKey string
	cmd := &cobra.Command{
		Use:   "create --name NAME --role owner|admin|viewer",
		Short: "Create an account key; prints it once",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req.Role = client.Role(role)
			return show(cmd, cf, func(ctx context.Context, c *adminClient) (*http.Response, error) {
				return c.CreateAccountKey(ctx, &client.CreateAccountKeyParams{IdempotencyKey: optional(idemKey)}, req)
			}, printCreatedAccountKey)
		},
	}
	cmd.Flags().StringVar(&req.Name, "name", "", "what or whom the key is for (required)")
	cmd.Flags().StringVar(&role, "role", accounts.RoleViewer, "owner, admin or viewer")
	_ = cmd.MarkFlagRequired("name")
	addIdempotencyFlag(cmd, &idemKey)
	return cmd
}

// printCreatedAccountKey prints a new account key, once, or the replay
// notice when the request repeated an earlier one.
func printCreatedAccountKey(out io.Writer, k client.CreatedAccountKey) error {
	fields := [][2]string{{"key_id", k.KeyID}, {"name", k.Name}, {"role", string(k.Role)}}
	if k.Replay != nil {
		fields = append(fields, [2]string{"key", k.Masked}, [2]string{"replayed", string(k.Replay.Code) + ": " + k.Replay.Message})
	} else {
		fields = append(fields, [2]string{"key", deref(k.Key)}, [2]string{"note", "the key is shown only once; store it now"})
	}
	return printFields(out, fields)
}

func newAccountKeysListCommand(cf *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List account keys, masked",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return show(cmd, cf, func(ctx context.Context, c *adminClient) (*http.Response, error) {
				return c.ListAccountKeys(ctx)
			}, func(out io.Writer, l client.AccountKeyList) error {
				return pageTable([]string{"KEY_ID", "NAME", "ROLE", "KEY", "CREATED", "CREATED_BY"}, func(k client.AccountKey) []string {
					return []string{k.KeyID, k.Name, string(k.Role), k.Masked, k.CreatedAt.Format(time.RFC3339), orDash(deref(k.CreatedBy))}
				}, l.Items, nil)(out)
			})
		},
	}
}

func newAccountKeysDeleteCommand(cf *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "delete KEY_ID",
		Short: "Delete an account key (the last owner key cannot be deleted)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return remove(cmd, cf, func(ctx context.Context, c *adminClient) (*http.Response, error) {
				return c.DeleteAccountKey(ctx, args[0])
			}, map[string]string{"deleted": args[0]}, "deleted "+args[0])
		},
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
