package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

func newTokenCommand() *cobra.Command {
	var clientID, clientSecret, tokenURL, output string
	var scopes, audiences []string
	cmd := &cobra.Command{
		Use:   "token --client-id ID --client-secret SECRET [--scope S]...",
		Short: "Get an access token with the client credentials grant and print it (for test harnesses)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if clientSecret == "" {
				clientSecret = envOr("AUTHSERVER_CLIENT_SECRET", "")
			}
			if clientID == "" || clientSecret == "" {
				return fmt.Errorf("--client-id and --client-secret (or AUTHSERVER_CLIENT_SECRET) are required")
			}
			cc := clientcredentials.Config{
				ClientID: clientID, ClientSecret: clientSecret, TokenURL: tokenURL,
				Scopes: scopes, AuthStyle: oauth2.AuthStyleInHeader,
			}
			if len(audiences) > 0 {
				cc.EndpointParams = map[string][]string{"audience": audiences}
			}
			ctx := context.WithValue(cmd.Context(), oauth2.HTTPClient, &http.Client{Timeout: 30 * time.Second})
			tok, err := cc.Token(ctx)
			if err != nil {
				return fmt.Errorf("token request to %s: %w", tokenURL, err)
			}
			out := cmd.OutOrStdout()
			if output == "json" {
				return printJSON(out, map[string]any{
					"access_token": tok.AccessToken, "token_type": tok.TokenType,
					"expires_in": int64(time.Until(tok.Expiry).Round(time.Second) / time.Second),
					"scope":      tok.Extra("scope"),
				})
			}
			_, err = fmt.Fprintln(out, tok.AccessToken)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&clientID, "client-id", "", "client id (the App ID)")
	f.StringVar(&clientSecret, "client-secret", "", "client secret (env AUTHSERVER_CLIENT_SECRET keeps it out of process lists)")
	f.StringVar(&tokenURL, "token-url", envOr("AUTHSERVER_TOKEN_URL", "http://localhost:8080/oauth2/token"), "token endpoint (env AUTHSERVER_TOKEN_URL)")
	f.StringArrayVar(&scopes, "scope", nil, "scope to request (repeatable)")
	f.StringArrayVar(&audiences, "audience", nil, "audience to request (repeatable)")
	f.StringVarP(&output, "output", "o", "token", "token (the bare access token) or json")
	return cmd
}
