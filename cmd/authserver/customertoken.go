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
	cmd := &cobra.Command{
		Use:   "customer-token --client-id APP_ID (--username USER | --customer-id ID)",
		Short: "Get a user's appUser token from /customer_authenticate and print it (for test harnesses)",
		Long: "With --username: the test-harness login; the password comes from --password-stdin or\n" +
			"AUTHSERVER_USER_PASSWORD. With --customer-id: the delegated login, authenticated with\n" +
			"the app's secret from AUTHSERVER_CLIENT_SECRET.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if clientID == "" || (username == "") == (customerID == "") {
				return fmt.Errorf("--client-id and exactly one of --username and --customer-id are required")
			}
			form := url.Values{}
			req, err := http.NewRequestWithContext(cmd.Context(), http.MethodPost, endpoint, nil)
			if err != nil {
				return err
			}
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
				req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
				form.Set("customer_id", customerID)
			}
			req.Body = io.NopCloser(strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			resp, err := http.DefaultClient.Do(req.WithContext(ctx))
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
			if output == "json" {
				return printJSON(cmd.OutOrStdout(), body)
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), body["access_token"])
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&clientID, "client-id", "", "the app's App ID")
	f.StringVar(&username, "username", "", "a test user's username (test-harness login)")
	f.StringVar(&customerID, "customer-id", "", "the app's own user id (delegated login)")
	f.BoolVar(&passwordStdin, "password-stdin", false, "read the test user's password from the first line of stdin")
	f.StringVar(&endpoint, "url", envOr("AUTHSERVER_CUSTOMER_AUTH_URL", "http://localhost:8080/customer_authenticate"), "the customer_authenticate endpoint (env AUTHSERVER_CUSTOMER_AUTH_URL)")
	f.StringVarP(&output, "output", "o", "token", "token (the bare access token) or json")
	return cmd
}
