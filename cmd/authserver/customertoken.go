package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

func newCustomerTokenCommand() *cobra.Command {
	var clientID, username, customerID, endpoint, output string
	var passwordStdin bool
	var dflags dpopFlags
	cmd := &cobra.Command{
		Use:   "customer-token --client-id APP_ID (--username USER | --customer-id ID) [--dpop-key FILE [--dpop-resource URL]]",
		Short: "Get a user's appUser token from /customer_authenticate and print it (for test harnesses)",
		Long: "With --username: the test-harness login; the password comes from --password-stdin or\n" +
			"AUTHSERVER_USER_PASSWORD. With --customer-id: the delegated login, authenticated with\n" +
			"the app's secret from AUTHSERVER_CLIENT_SECRET.\n\n" +
			"With --dpop-key the request carries a DPoP proof (RFC 9449), so that the token is bound\n" +
			"to that key; with --dpop-resource it also prints a proof for one request to that URL\n" +
			"(-o headers, shell or json), for example:\n\n" +
			"  authserver customer-token --client-id APP --username alice --password-stdin \\\n" +
			"    --dpop-key dpop.pem --dpop-resource https://auth.example.com/getprofile -o headers \\\n" +
			"    | curl -X POST -H @- -H 'X-API-Key: APP' https://auth.example.com/getprofile",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if clientID == "" || (username == "") == (customerID == "") {
				return fmt.Errorf("--client-id and exactly one of --username and --customer-id are required")
			}
			if err := dflags.check(); err != nil {
				return err
			}
			session, err := newDPoPSession(&dflags, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			form := url.Values{}
			var basicUser, basicSecret string
			if username != "" {
				password, err := userPassword(cmd, passwordStdin)
				if err != nil {
					return err
				}
				if password == "" {
					return fmt.Errorf("no password: use --password-stdin or AUTHSERVER_USER_PASSWORD")
				}
				form.Set("client_id", clientID)
				form.Set("username", username)
				form.Set("password", password)
			} else {
				secret := envOr("AUTHSERVER_CLIENT_SECRET", "")
				if secret == "" {
					return fmt.Errorf("the delegated login needs the app's secret in AUTHSERVER_CLIENT_SECRET")
				}
				basicUser, basicSecret = url.QueryEscape(clientID), url.QueryEscape(secret)
				form.Set("customer_id", customerID)
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			// A body GetBody can replay, for a retry with a DPoP nonce.
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
			if err != nil {
				return err
			}
			if basicUser != "" {
				req.SetBasicAuth(basicUser, basicSecret)
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			client := http.DefaultClient
			if session != nil {
				client = session.client(client)
			}
			resp, err := client.Do(req)
			if err != nil {
				return fmt.Errorf("request to %s: %w", endpoint, err)
			}
			defer resp.Body.Close()
			var body map[string]any
			if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body); err != nil {
				return fmt.Errorf("%s answered %d with a body that is not JSON", endpoint, resp.StatusCode)
			}
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("%s: %v: %v", resp.Status, body["error"], body["error_description"])
			}
			token, _ := body["access_token"].(string)
			tokenType, _ := body["token_type"].(string)
			warnIfUnbound(cmd.ErrOrStderr(), session, tokenType)
			d, err := session.output(&dflags, token)
			if err != nil {
				return err
			}
			return printToken(cmd.OutOrStdout(), output, body, token, tokenType, d)
		},
	}
	dflags.register(cmd)
	f := cmd.Flags()
	f.StringVar(&clientID, "client-id", "", "the app's App ID")
	f.StringVar(&username, "username", "", "a test user's username (test-harness login)")
	f.StringVar(&customerID, "customer-id", "", "the app's own user id (delegated login)")
	f.BoolVar(&passwordStdin, "password-stdin", false, "read the test user's password from the first line of stdin")
	f.StringVar(&endpoint, "url", envOr("AUTHSERVER_CUSTOMER_AUTH_URL", "http://localhost:8080/customer_authenticate"), "the customer_authenticate endpoint (env AUTHSERVER_CUSTOMER_AUTH_URL)")
	f.StringVarP(&output, "output", "o", "token", "token (the bare access token), json, shell (export lines) or headers (for curl -H @-)")
	return cmd
}
