package scenario

import (
	"encoding/json"
	"fmt"
	"strings"

	"reach/internal/report"
)

// Normalize drops what legitimately differs between a run from files and a live run: the input
// description and the file and line of objects. Everything else must match.
func Normalize(raw []byte) ([]byte, error) {
	var t report.Trace
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, fmt.Errorf("parse report: %w", err)
	}
	t.Input = nil
	strip := func(o *report.ObjectRef) { o.File, o.Line = "", 0 }
	for i := range t.Findings {
		strip(&t.Findings[i].Object)
		for j := range t.Findings[i].Related {
			strip(&t.Findings[i].Related[j])
		}
	}
	if t.RootCause != nil {
		strip(&t.RootCause.Object)
		for j := range t.RootCause.Related {
			strip(&t.RootCause.Related[j])
		}
	}
	out, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// Check compares a report with the hand-written expectations and returns every difference.
func Check(raw []byte, code int, e Expect) []string {
	var t report.Trace
	if err := json.Unmarshal(raw, &t); err != nil {
		return []string{"parse report: " + err.Error()}
	}
	var bad []string
	if e.Verdict != "" && string(t.Verdict) != e.Verdict {
		bad = append(bad, fmt.Sprintf("verdict %s, want %s", t.Verdict, e.Verdict))
	}
	if e.ExitCode != nil && code != *e.ExitCode {
		bad = append(bad, fmt.Sprintf("exit code %d, want %d", code, *e.ExitCode))
	}
	if rc := e.RootCause; rc != nil {
		got := t.RootCause
		switch {
		case got == nil:
			bad = append(bad, fmt.Sprintf("no root cause, want %s %s", rc.Layer, rc.Code))
		default:
			if rc.Layer != "" && string(got.Layer) != rc.Layer {
				bad = append(bad, fmt.Sprintf("root cause layer %s, want %s", got.Layer, rc.Layer))
			}
			if rc.Code != "" && string(got.Code) != rc.Code {
				bad = append(bad, fmt.Sprintf("root cause code %s, want %s", got.Code, rc.Code))
			}
			o := rc.Object
			if o.Kind != "" && (got.Object.Kind != o.Kind || got.Object.Namespace != o.Namespace || got.Object.Name != o.Name) {
				bad = append(bad, fmt.Sprintf("root cause object %s %s/%s, want %s %s/%s", got.Object.Kind, got.Object.Namespace, got.Object.Name, o.Kind, o.Namespace, o.Name))
			}
		}
	}
	codes := map[string]bool{}
	for _, f := range t.Findings {
		codes[string(f.Code)] = true
	}
	for _, c := range e.Findings {
		if !codes[c] {
			bad = append(bad, "missing finding "+c)
		}
	}
	for _, c := range e.Absent {
		if codes[c] {
			bad = append(bad, "unexpected finding "+c)
		}
	}
	for _, l := range e.Unknown {
		found := false
		for _, h := range t.Hops {
			if string(h.Layer) == l && h.Status == report.StatusUnknown {
				found = true
			}
		}
		if !found {
			bad = append(bad, "layer "+l+" is not unknown")
		}
	}
	for _, m := range e.Mentions {
		if !mentions(t, m) {
			bad = append(bad, fmt.Sprintf("no hop or finding says %q", m))
		}
	}
	if len(bad) > 0 {
		bad = append(bad, "report summary: "+summary(t))
	}
	return bad
}

func summary(t report.Trace) string {
	var hops []string
	for _, h := range t.Hops {
		hops = append(hops, fmt.Sprintf("%s=%s", h.Layer, h.Status))
	}
	rc := "none"
	if t.RootCause != nil {
		rc = fmt.Sprintf("%s/%s %s %s/%s", t.RootCause.Layer, t.RootCause.Code, t.RootCause.Object.Kind, t.RootCause.Object.Namespace, t.RootCause.Object.Name)
	}
	return fmt.Sprintf("verdict %s, root cause %s, hops %s", t.Verdict, rc, strings.Join(hops, " "))
}

func mentions(t report.Trace, text string) bool {
	for _, h := range t.Hops {
		if strings.Contains(h.Summary, text) {
			return true
		}
	}
	for _, f := range t.Findings {
		if strings.Contains(f.Message, text) {
			return true
		}
	}
	return false
}
