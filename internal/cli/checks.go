package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"reach/internal/render"
	"reach/internal/report"
)

func newChecks(s Streams) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "checks",
		Short: "List the finding codes with their layer and default severity",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cat := report.Catalogue()
			switch output {
			case "json":
				return render.JSON(s.Out, cat)
			case "yaml":
				return render.YAML(s.Out, cat)
			case "text":
			default:
				return fmt.Errorf("unknown output format %q (want text, json or yaml)", output)
			}
			tw := tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "CODE\tLAYER\tSEVERITY\tWHAT")
			for _, c := range cat {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Code, c.Layer, c.Severity, c.Title)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text, json or yaml")
	return cmd
}
