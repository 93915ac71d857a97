package cli

import (
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
)

func newMatrix(s Streams, kube *genericclioptions.ConfigFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "matrix",
		Short: "Who may talk to whom under the NetworkPolicies in scope",
		RunE: func(cmd *cobra.Command, args []string) error {
			return fmt.Errorf("matrix is not available in this build")
		},
	}
}
