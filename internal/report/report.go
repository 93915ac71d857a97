// Package report holds the reach/v1 result structs that engines fill and renderers read.
package report

// SchemaVersion is written into every trace report.
const SchemaVersion = "reach/v1"

// Layer names one hop of the path.
type Layer string

const (
	LayerClient    Layer = "client"
	LayerDNS       Layer = "dns"
	LayerService   Layer = "service"
	LayerProxy     Layer = "proxy"
	LayerEndpoints Layer = "endpoints"
	LayerPod       Layer = "pod"
	LayerPort      Layer = "port"
	LayerPolicy    Layer = "policy"
	LayerExposure  Layer = "exposure"
	LayerNode      Layer = "node"
)

// Status of one hop.
type Status string

const (
	StatusPass    Status = "pass"
	StatusWarn    Status = "warn"
	StatusFail    Status = "fail"
	StatusSkip    Status = "skip"
	StatusUnknown Status = "unknown"
)

// Verdict of a whole trace.
type Verdict string

const (
	VerdictReachable Verdict = "reachable"
	VerdictBlocked   Verdict = "blocked"
	VerdictDegraded  Verdict = "degraded"
	VerdictUnknown   Verdict = "unknown"
)

// Severity of a finding.
type Severity string

const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
	SeverityInfo    Severity = "info"
)

// ObjectRef points at one Kubernetes object.
type ObjectRef struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	File      string `json:"file,omitempty"`
	Line      int    `json:"line,omitempty"`
}

// Endpoint is one end of a trace.
type Endpoint struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name,omitempty"`
	// Pod is the pod picked for a workload source.
	Pod      string `json:"pod,omitempty"`
	Address  string `json:"address,omitempty"`
	Port     int32  `json:"port,omitempty"`
	Protocol string `json:"protocol,omitempty"`
	// As is the reference as the user wrote it.
	As string `json:"as,omitempty"`
}

// Hop is one layer of the path with its status.
type Hop struct {
	Layer   Layer    `json:"layer"`
	Status  Status   `json:"status"`
	Summary string   `json:"summary"`
	Details []string `json:"details,omitempty"`
}

// Finding is one fact the checks established, with the object to change and the fix.
type Finding struct {
	Code     Code        `json:"code"`
	Layer    Layer       `json:"layer"`
	Severity Severity    `json:"severity"`
	Object   ObjectRef   `json:"object"`
	Related  []ObjectRef `json:"related,omitempty"`
	Field    string      `json:"field,omitempty"`
	Message  string      `json:"message"`
	Evidence []string    `json:"evidence,omitempty"`
	Fix      string      `json:"fix,omitempty"`
	// Degrades marks a failure that hits only some requests (some nodes, some pods).
	Degrades bool `json:"degrades,omitempty"`
}

// RootCause is the first failing finding on the path.
type RootCause struct {
	Code    Code        `json:"code"`
	Layer   Layer       `json:"layer"`
	Object  ObjectRef   `json:"object"`
	Related []ObjectRef `json:"related"`
	Message string      `json:"message"`
	Fix     string      `json:"fix"`
}

// Input says what the report was computed from.
type Input struct {
	Mode  string   `json:"mode"`
	Kinds []string `json:"kinds,omitempty"`
}

// Trace is the whole answer of `reach trace`.
type Trace struct {
	SchemaVersion string     `json:"schemaVersion"`
	Source        Endpoint   `json:"source"`
	Target        Endpoint   `json:"target"`
	Verdict       Verdict    `json:"verdict"`
	Hops          []Hop      `json:"hops"`
	Findings      []Finding  `json:"findings"`
	RootCause     *RootCause `json:"rootCause"`
	Input         *Input     `json:"input,omitempty"`
}
