// Command authserver is the OAuth 2.0 authorization server and its
// operator CLI: "authserver serve" runs the server; every other command is
// a client of a running server's admin API or token endpoint.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRootCommand().ExecuteContext(ctx); err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

// exitError ends the process with code after its message was printed.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// hintDoubleDash adds to an unknown-flag error how to pass an argument
// that begins with "-": a kid is a base64url RFC 7638 thumbprint, and one
// in 64 begins with "-", which cobra reads as a flag.
func hintDoubleDash(_ *cobra.Command, err error) error {
	if strings.Contains(err.Error(), "unknown shorthand flag") || strings.Contains(err.Error(), "unknown flag") {
		return fmt.Errorf("%w (an argument that begins with \"-\", such as a kid, goes after \"--\": authserver keys discard -- -AbC…)", err)
	}
	return err
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "authserver",
		Short:         "OAuth 2.0 authorization server and API-credential service",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(hintDoubleDash)
	root.AddCommand(newServeCommand(), newAppsCommand(), newTokenCommand())
	root.AddCommand(newKeysCommand(), newKEKCommand())
	root.AddCommand(newAccountKeysCommand(), newAuditCommand())
	root.AddCommand(newUsersCommand(), newAssertionKeysCommand(), newCustomerTokenCommand(), newDPoPProofCommand())
	return root
}
