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
	var dflags dpopFlags
	cmd := &cobra.Command{
		Use:   "token --client-id ID --client-secret SECRET [--scope S]... [--dpop-key FILE [--dpop-resource URL]]",
		Short: "Get an access token with the client credentials grant and print it (for test harnesses)",
		Long: "With --dpop-key the token request carries a DPoP proof (RFC 9449), so that the token is\n" +
			"bound to that key (token_type DPoP); with --dpop-resource it also prints a proof for one\n" +
			"request to that URL: -o headers prints the request's headers for curl -H @-, -o shell\n" +
			"export lines, -o json the answer with dpop_proof and dpop_jkt. A proof serves once:\n" +
			"use dpop-proof for the next request.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if clientSecret == "" {
				clientSecret = envOr("AUTHSERVER_CLIENT_SECRET", "")
			}
			if clientID == "" || clientSecret == "" {
				return fmt.Errorf("--client-id and --client-secret (or AUTHSERVER_CLIENT_SECRET) are required")
			}
			if err := dflags.check(); err != nil {
				return err
			}
			session, err := newDPoPSession(&dflags, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			cc := clientcredentials.Config{
				ClientID: clientID, ClientSecret: clientSecret, TokenURL: tokenURL,
				Scopes: scopes, AuthStyle: oauth2.AuthStyleInHeader,
			}
			if len(audiences) > 0 {
				cc.EndpointParams = map[string][]string{"audience": audiences}
			}
			client := &http.Client{Timeout: 30 * time.Second}
			if session != nil {
				client = session.client(client)
			}
			ctx := context.WithValue(cmd.Context(), oauth2.HTTPClient, client)
			tok, err := cc.Token(ctx)
			if err != nil {
				return fmt.Errorf("token request to %s: %w", tokenURL, err)
			}
			warnIfUnbound(cmd.ErrOrStderr(), session, tok.Type())
			d, err := session.output(&dflags, tok.AccessToken)
			if err != nil {
				return err
			}
			answer := map[string]any{
				"access_token": tok.AccessToken, "token_type": tok.TokenType,
				"expires_in": int64(time.Until(tok.Expiry).Round(time.Second) / time.Second),
				"scope":      tok.Extra("scope"),
			}
			return printToken(cmd.OutOrStdout(), output, answer, tok.AccessToken, tok.Type(), d)
		},
	}
	dflags.register(cmd)
	f := cmd.Flags()
	f.StringVar(&clientID, "client-id", "", "client id (the App ID)")
	f.StringVar(&clientSecret, "client-secret", "", "client secret (env AUTHSERVER_CLIENT_SECRET keeps it out of process lists)")
	f.StringVar(&tokenURL, "token-url", envOr("AUTHSERVER_TOKEN_URL", "http://localhost:8080/oauth2/token"), "token endpoint (env AUTHSERVER_TOKEN_URL)")
	f.StringArrayVar(&scopes, "scope", nil, "scope to request (repeatable)")
	f.StringArrayVar(&audiences, "audience", nil, "audience to request (repeatable)")
	f.StringVarP(&output, "output", "o", "token", "token (the bare access token), json, shell (export lines) or headers (for curl -H @-)")
	return cmd
}
