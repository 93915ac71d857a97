package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/rest"

	"reach/internal/model"
	"reach/internal/policy"
	"reach/internal/ref"
	"reach/internal/render"
	"reach/internal/source"
)

type matrixFlags struct {
	files         []string
	output        string
	port          int32
	protocol      string
	from, to      string
	explain       []string
	allNamespaces bool
}

func newMatrix(s Streams, kube *genericclioptions.ConfigFlags) *cobra.Command {
	f := &matrixFlags{}
	cmd := &cobra.Command{
		Use:   "matrix",
		Short: "Who may talk to whom under the NetworkPolicies in scope, pods grouped into classes",
		Long: `Who may talk to whom on one port under the NetworkPolicies and cluster policies in scope.
Pods that every policy treats alike are grouped into classes; each cell is one class pair.
Use --explain FROM TO (two pod references) for the rules deciding one cell.`,
		Example: `  kubectl reach matrix -n shop --port 8080
  kubectl reach matrix -A -f snapshot/ --port 80 -o dot
  kubectl reach matrix -n shop --port 8080 --explain pod/frontend-1 pod/cart-2`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runMatrix(cmd, s, kube, f) },
	}
	cmd.Flags().StringArrayVarP(&f.files, "filename", "f", nil, "snapshot file or directory (repeatable; - for stdin)")
	cmd.Flags().StringVarP(&f.output, "output", "o", "table", "output format: table, json, csv or dot")
	cmd.Flags().Int32Var(&f.port, "port", 80, "destination port")
	cmd.Flags().StringVar(&f.protocol, "protocol", "TCP", "protocol: TCP, UDP or SCTP")
	cmd.Flags().StringVar(&f.from, "from", "", "label selector for source pods")
	cmd.Flags().StringVar(&f.to, "to", "", "label selector for destination pods")
	cmd.Flags().StringSliceVar(&f.explain, "explain", nil, "explain one cell: FROM,TO pod references")
	cmd.Flags().BoolVarP(&f.allNamespaces, "all-namespaces", "A", false, "every namespace")
	return cmd
}

func runMatrix(cmd *cobra.Command, s Streams, kube *genericclioptions.ConfigFlags, f *matrixFlags) error {
	proto := corev1.Protocol(strings.ToUpper(f.protocol))
	if proto != corev1.ProtocolTCP && proto != corev1.ProtocolUDP && proto != corev1.ProtocolSCTP {
		return fmt.Errorf("unknown protocol %q (want TCP, UDP or SCTP)", f.protocol)
	}
	var namespaces []string
	if !f.allNamespaces {
		namespaces = []string{namespace(kube, len(f.files) > 0)}
	}
	m, err := loadScope(cmd, s, kube, f.files, namespaces)
	if err != nil {
		return err
	}
	if len(f.explain) > 0 {
		return explainCell(s, m, f, namespaces, proto)
	}
	req := policy.MatrixRequest{Namespaces: namespaces, Port: f.port, Protocol: proto}
	if req.From, err = selector(f.from); err != nil {
		return err
	}
	if req.To, err = selector(f.to); err != nil {
		return err
	}
	res := policy.Matrix(m, req)
	return writeMatrix(s.Out, f.output, res)
}

func selector(s string) (labels.Selector, error) {
	if s == "" {
		return nil, nil
	}
	sel, err := labels.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("label selector %q: %w", s, err)
	}
	return sel, nil
}

func loadScope(cmd *cobra.Command, s Streams, kube *genericclioptions.ConfigFlags, files, namespaces []string) (*model.Cluster, error) {
	if len(files) > 0 {
		return loadFiles(s, files)
	}
	return loadLive(s, kube, func(cfg *rest.Config) (*model.Cluster, error) {
		return source.LiveNamespaces(cmd.Context(), cfg, namespaces)
	})
}

func writeMatrix(w io.Writer, format string, res policy.MatrixResult) error {
	switch format {
	case "json":
		return render.JSON(w, res)
	case "csv":
		_, err := io.WriteString(w, policy.RenderCSV(res))
		return err
	case "dot":
		_, err := io.WriteString(w, policy.RenderDot(res))
		return err
	case "table", "text":
		_, err := io.WriteString(w, policy.RenderTable(res))
		return err
	}
	return fmt.Errorf("unknown output format %q (want table, json, csv or dot)", format)
}

func explainCell(s Streams, m *model.Cluster, f *matrixFlags, namespaces []string, proto corev1.Protocol) error {
	if len(f.explain) != 2 {
		return fmt.Errorf("--explain takes two pod references: FROM,TO")
	}
	ns := "default"
	if len(namespaces) == 1 {
		ns = namespaces[0]
	}
	var pods [2]*corev1.Pod
	for i, raw := range f.explain {
		r, err := ref.Parse(raw, ns)
		if err != nil {
			return err
		}
		if r.Kind != ref.Pod {
			return fmt.Errorf("--explain %q: want pod/NAME", raw)
		}
		if pods[i] = m.Pod(r.Namespace, r.Name); pods[i] == nil {
			return fmt.Errorf("pod %s/%s not found", r.Namespace, r.Name)
		}
	}
	d := policy.Explain(m, pods[0], pods[1], f.port, proto)
	switch f.output {
	case "json":
		return render.JSON(s.Out, d)
	case "table", "text":
		_, err := fmt.Fprintf(s.Out, "pod %s/%s -> pod %s/%s on %d/%s\n\n%s", pods[0].Namespace, pods[0].Name,
			pods[1].Namespace, pods[1].Name, f.port, proto, policy.RenderExplain(d))
		return err
	}
	return fmt.Errorf("unknown output format %q for --explain (want table, text or json)", f.output)
}
