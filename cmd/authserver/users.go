package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/authserver/authserver/adminapi/client"
)

// readSecretInput reads one line from r (a password or secret piped in),
// without its line ending.
func readSecretInput(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// userPassword is the test user's password a command was given: the
// first line of stdin with --password-stdin, otherwise
// AUTHSERVER_USER_PASSWORD ("" when neither gives one).
func userPassword(cmd *cobra.Command, fromStdin bool) (string, error) {
	if !fromStdin {
		return os.Getenv("AUTHSERVER_USER_PASSWORD"), nil
	}
	password, err := readSecretInput(cmd.InOrStdin())
	if err != nil {
		return "", fmt.Errorf("read the password from stdin: %w", err)
	}
	return password, nil
}

// randomPassword returns 20 random characters from a 62-letter alphabet
// (about 119 bits).
func randomPassword() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 20)
	for i := range b {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			panic("crypto/rand failed: " + err.Error())
		}
		b[i] = alphabet[n.Int64()]
	}
	return string(b)
}

func newUsersCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "users", Short: "Manage test users of test-environment apps (for customer_authenticate)"}
	cf := addClientFlags(cmd)
	cmd.AddCommand(newUsersCreateCommand(cf), newUsersListCommand(cf), newUsersDeleteCommand(cf))
	return cmd
}

func newUsersCreateCommand(cf *clientFlags) *cobra.Command {
	var appID, customerID string
	var passwordStdin bool
	cmd := &cobra.Command{
		Use:   "create --app APP_ID USERNAME",
		Short: "Register a test user; the password is read from stdin (--password-stdin), AUTHSERVER_USER_PASSWORD, or generated and shown once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			password, err := userPassword(cmd, passwordStdin)
			if err != nil {
				return err
			}
			generated := false
			if password == "" {
				password, generated = randomPassword(), true
			}
			in := client.NewTestUser{Username: args[0], Password: password, CustomerID: optional(customerID)}
			body, err := c.read(c.CreateTestUser(cmd.Context(), appID, in))
			if err != nil {
				return err
			}
			created, err := decode[client.TestUser](body)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if cf.output == "json" {
				v := map[string]any{"user": created}
				if generated {
					v["password"] = password
				}
				return printJSON(out, v)
			}
			fields := [][2]string{
				{"user_id", created.UserID}, {"app_id", created.AppID}, {"username", created.Username},
				{"subject", created.Subject},
			}
			if generated {
				fields = append(fields, [2]string{"password", password}, [2]string{"note", "the password is shown only once"})
			}
			return printFields(out, fields)
		},
	}
	f := cmd.Flags()
	f.StringVar(&appID, "app", "", "the test app's App ID (required)")
	f.StringVar(&customerID, "customer-id", "", "the app's own id for the user, from which the opaque sub derives (default: the username)")
	f.BoolVar(&passwordStdin, "password-stdin", false, "read the password from the first line of stdin")
	_ = cmd.MarkFlagRequired("app")
	return cmd
}

func newUsersListCommand(cf *clientFlags) *cobra.Command {
	var appID string
	var pf pageFlags
	cmd := &cobra.Command{
		Use:   "list --app APP_ID",
		Short: "List an app's test users, a page at a time",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var p client.ListTestUsersParams
			p.After, p.Limit = pf.params()
			return show(cmd, cf, func(ctx context.Context, c *adminClient) (*http.Response, error) {
				return c.ListTestUsers(ctx, appID, &p)
			}, func(out io.Writer, l client.TestUserList) error {
				return pageTable([]string{"USERNAME", "USER_ID", "SUBJECT", "CREATED"}, func(u client.TestUser) []string {
					return []string{u.Username, u.UserID, u.Subject, u.CreatedAt.Format(time.RFC3339)}
				}, l.Items, l.NextAfter)(out)
			})
		},
	}
	cmd.Flags().StringVar(&appID, "app", "", "the app's App ID (required)")
	pf.define(cmd, "cursor: list users after this username")
	_ = cmd.MarkFlagRequired("app")
	return cmd
}

func newUsersDeleteCommand(cf *clientFlags) *cobra.Command {
	var appID string
	cmd := &cobra.Command{
		Use:   "delete --app APP_ID USERNAME",
		Short: "Delete a test user (tokens already issued stay valid until they expire)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return remove(cmd, cf, func(ctx context.Context, c *adminClient) (*http.Response, error) {
				return c.DeleteTestUser(ctx, appID, args[0])
			}, map[string]string{"deleted": args[0]}, "deleted "+args[0])
		},
	}
	cmd.Flags().StringVar(&appID, "app", "", "the app's App ID (required)")
	_ = cmd.MarkFlagRequired("app")
	return cmd
}

func newAssertionKeysCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "assertion-keys",
		Short: "Show or set how an app signs its own JWTs (RFC 7523 client assertions and secure-mode user assertions)",
	}
	cf := addClientFlags(cmd)
	get := &cobra.Command{
		Use:   "get APP_ID",
		Short: "Show an app's assertion keys: inline JWKS, jwks_uri, secret signing",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return show(cmd, cf, func(ctx context.Context, c *adminClient) (*http.Response, error) {
				return c.GetAssertionKeys(ctx, args[0])
			}, printAssertionKeys)
		},
	}
	var jwksFile, jwksURI string
	var secretSigning bool
	set := &cobra.Command{
		Use:   "set APP_ID [--jwks-file FILE | --jwks-uri URL] [--secret-signing]",
		Short: "Replace an app's assertion keys (what is not given is removed)",
		Long: "Replace an app's assertion-key settings at once. --jwks-file is a JWK Set of public\n" +
			"keys (\"-\" reads stdin); --jwks-uri is where the app publishes one (https). They\n" +
			"exclude each other. --secret-signing lets the app sign HS256 assertions with its\n" +
			"secrets (kid = secret id): secrets created from then on are kept encrypted as\n" +
			"well as hashed; earlier ones cannot sign (only their hash was ever kept), so\n" +
			"create or rotate a secret after opting in. Leaving it out erases every\n" +
			"encrypted copy.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			body := client.AssertionKeySettings{JwksURI: optional(jwksURI), SecretSigning: &secretSigning}
			if jwksFile != "" {
				var data []byte
				var err error
				if jwksFile == "-" {
					data, err = io.ReadAll(io.LimitReader(cmd.InOrStdin(), 1<<20))
				} else {
					data, err = os.ReadFile(jwksFile)
				}
				if err != nil {
					return fmt.Errorf("read the JWKS: %w", err)
				}
				var set client.JWKS
				if err := json.Unmarshal(data, &set); err != nil {
					return fmt.Errorf("%s is not a JWK Set: %w", jwksFile, err)
				}
				body.Jwks = &set
			}
			return show(cmd, cf, func(ctx context.Context, c *adminClient) (*http.Response, error) {
				return c.SetAssertionKeys(ctx, args[0], body)
			}, printAssertionKeys)
		},
	}
	f := set.Flags()
	f.StringVar(&jwksFile, "jwks-file", "", "file holding the app's public JWK Set (\"-\" for stdin)")
	f.StringVar(&jwksURI, "jwks-uri", "", "https URL where the app publishes its JWK Set")
	f.BoolVar(&secretSigning, "secret-signing", false, "allow HS256 assertions signed with the app's secrets")
	set.MarkFlagsMutuallyExclusive("jwks-file", "jwks-uri")
	cmd.AddCommand(get, set)
	return cmd
}

// printAssertionKeys prints an app's assertion-key settings, the inline
// JWKS as its key ids.
func printAssertionKeys(out io.Writer, v client.AssertionKeys) error {
	kids := []string{}
	if v.Jwks != nil {
		for _, k := range v.Jwks.Keys {
			kids = append(kids, fmt.Sprint(k["kid"])+" ("+fmt.Sprint(k["alg"])+")")
		}
	}
	return printFields(out, [][2]string{
		{"app_id", v.AppID},
		{"jwks", strings.Join(kids, ", ")},
		{"jwks_uri", deref(v.JwksURI)},
		{"secret_signing", strconv.FormatBool(v.SecretSigning)},
		{"signing_secrets", strings.Join(v.SigningSecrets, ", ")},
	})
}
