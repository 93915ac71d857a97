package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/rest"

	"reach/internal/model"
	"reach/internal/ref"
	"reach/internal/render"
	"reach/internal/report"
	"reach/internal/source"
	"reach/internal/trace"
)

type traceFlags struct {
	files    []string
	output   string
	protocol string
}

func newTrace(s Streams, kube *genericclioptions.ConfigFlags) *cobra.Command {
	f := &traceFlags{}
	cmd := &cobra.Command{
		Use:   "trace SOURCE TARGET",
		Short: "Trace the path from SOURCE to TARGET hop by hop and name the first place it breaks",
		Long: `Trace the path from SOURCE to TARGET hop by hop and name the first place it breaks.

SOURCE: [NAMESPACE/]KIND/NAME (pod, deploy, sts, ds, node) or "outside".
TARGET: [NAMESPACE/]KIND/NAME[:PORT] (svc, pod, deploy, sts, ds, ingress, node), a DNS name with a port
as the client writes it (cart:8080, cart.shop:8080, cart.shop.svc.cluster.local:8080), IP:PORT, or a URL.

Exit codes: 0 reachable, 1 blocked or degraded, 2 usage or tool error, 3 unknown.`,
		Example: `  kubectl reach trace -n shop pod/frontend-7c9d8-x2x9q svc/cart:8080
  kubectl reach trace -f snapshot/ deploy/frontend cart.shop:8080 -o json
  kubectl reach trace outside ingress/storefront`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTrace(cmd, s, kube, f, args)
		},
	}
	cmd.Flags().StringArrayVarP(&f.files, "filename", "f", nil, "snapshot file or directory (repeatable; - for stdin): YAML, JSON, kind: List, or a cluster-info dump directory")
	cmd.Flags().StringVarP(&f.output, "output", "o", "text", "output format: text, json or yaml")
	cmd.Flags().StringVar(&f.protocol, "protocol", "", "protocol the client speaks: TCP, UDP or SCTP (default: the Service port's)")
	return cmd
}

func runTrace(cmd *cobra.Command, s Streams, kube *genericclioptions.ConfigFlags, f *traceFlags, args []string) error {
	if f.output != "text" && f.output != "json" && f.output != "yaml" {
		return fmt.Errorf("unknown output format %q (want text, json or yaml)", f.output)
	}
	ns := namespace(kube, len(f.files) > 0)
	req, err := parseRequest(args, ns, f.protocol)
	if err != nil {
		return err
	}
	m, input, err := load(cmd, s, kube, f.files, req)
	if err != nil {
		return err
	}
	t := trace.Trace(m, req)
	t.Input = input
	if err := write(s, f.output, t); err != nil {
		return err
	}
	switch t.Verdict {
	case report.VerdictReachable:
		return nil
	case report.VerdictUnknown:
		return &exitError{ExitUnknown}
	}
	return &exitError{ExitFailed}
}

func parseRequest(args []string, ns, protocol string) (trace.Request, error) {
	src, err := ref.Parse(args[0], ns)
	if err != nil {
		return trace.Request{}, fmt.Errorf("source: %w", err)
	}
	switch src.Kind {
	case ref.DNSName, ref.Address, ref.Service, ref.Ingress:
		return trace.Request{}, fmt.Errorf("source %q: want a pod, deploy, sts, ds, node or outside", args[0])
	}
	dst, err := ref.Parse(args[1], ns)
	if err != nil {
		return trace.Request{}, fmt.Errorf("target: %w", err)
	}
	if dst.Kind == ref.Outside {
		return trace.Request{}, fmt.Errorf("target cannot be outside")
	}
	req := trace.Request{Source: src, Target: dst}
	switch p := strings.ToUpper(protocol); p {
	case "":
		if dst.Scheme != "" {
			req.Protocol = corev1.ProtocolTCP
		}
	case "TCP", "UDP", "SCTP":
		req.Protocol = corev1.Protocol(p)
	default:
		return trace.Request{}, fmt.Errorf("unknown protocol %q (want TCP, UDP or SCTP)", protocol)
	}
	return req, nil
}

// namespace is -n, else the kubeconfig context's namespace in live mode, else default.
func namespace(kube *genericclioptions.ConfigFlags, files bool) string {
	if kube.Namespace != nil && *kube.Namespace != "" {
		return *kube.Namespace
	}
	if !files {
		if ns, _, err := kube.ToRawKubeConfigLoader().Namespace(); err == nil && ns != "" {
			return ns
		}
	}
	return "default"
}

// load builds the model from snapshots or, for one trace, from the cluster.
func load(cmd *cobra.Command, s Streams, kube *genericclioptions.ConfigFlags, files []string, req trace.Request) (*model.Cluster, *report.Input, error) {
	if len(files) > 0 {
		m, err := loadFiles(s, files)
		if err != nil {
			return nil, nil, err
		}
		return m, &report.Input{Mode: "files", Kinds: m.Coverage.Kinds()}, nil
	}
	m, err := loadLive(s, kube, func(cfg *rest.Config) (*model.Cluster, error) {
		return source.Live(cmd.Context(), cfg, source.LiveRequest{Source: req.Source, Target: req.Target})
	})
	if err != nil {
		return nil, nil, err
	}
	return m, &report.Input{Mode: "live", Kinds: m.Coverage.Kinds()}, nil
}

// loadFiles reads snapshots and reports every bad document on stderr; the rest still loads.
func loadFiles(s Streams, files []string) (*model.Cluster, error) {
	m, bad, err := source.Files(files, s.In)
	if err != nil {
		return nil, err
	}
	for _, e := range bad {
		fmt.Fprintf(s.Err, "error: %v\n", e)
	}
	return m, nil
}

// loadLive fetches from the cluster of the kubeconfig and warns about every permission it lacked.
func loadLive(s Streams, kube *genericclioptions.ConfigFlags, fetch func(*rest.Config) (*model.Cluster, error)) (*model.Cluster, error) {
	cfg, err := kube.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("read kubeconfig: %w", err)
	}
	m, err := fetch(cfg)
	if err != nil {
		return nil, err
	}
	for _, d := range m.Coverage.Denied() {
		fmt.Fprintf(s.Err, "warning: %s\n", d)
	}
	return m, nil
}

func write(s Streams, format string, v report.Trace) error {
	switch format {
	case "json":
		return render.JSON(s.Out, v)
	case "yaml":
		return render.YAML(s.Out, v)
	}
	return render.Text(s.Out, v, render.Style{Color: colorful(s.Out)})
}
