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

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "authserver",
		Short:         "OAuth 2.0 authorization server and API-credential service",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newServeCommand(), newAppsCommand(), newTokenCommand())
	root.AddCommand(newKeysCommand(), newKEKCommand())
	root.AddCommand(newAccountKeysCommand(), newAuditCommand())
	root.AddCommand(newUsersCommand(), newAssertionKeysCommand(), newCustomerTokenCommand())
	return root
}
