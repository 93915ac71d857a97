package render

import (
	"fmt"
	"io"
	"strings"

	"reach/internal/report"
)

// Style says how text output looks.
type Style struct {
	Color bool
}

const (
	reset  = "\x1b[0m"
	bold   = "\x1b[1m"
	dim    = "\x1b[2m"
	red    = "\x1b[31m"
	green  = "\x1b[32m"
	yellow = "\x1b[33m"
	cyan   = "\x1b[36m"
)

func (s Style) paint(code, text string) string {
	if !s.Color || text == "" {
		return text
	}
	return code + text + reset
}

func mark(st report.Status) string {
	switch st {
	case report.StatusPass:
		return "✓"
	case report.StatusFail:
		return "✗"
	case report.StatusWarn:
		return "!"
	case report.StatusSkip:
		return "-"
	}
	return "?"
}

func (s Style) status(st report.Status, text string) string {
	switch st {
	case report.StatusPass:
		return s.paint(green, text)
	case report.StatusFail:
		return s.paint(red, text)
	case report.StatusWarn:
		return s.paint(yellow, text)
	case report.StatusSkip:
		return s.paint(dim, text)
	}
	return s.paint(cyan, text)
}

func (s Style) verdict(v report.Verdict) string {
	text := strings.ToUpper(string(v))
	switch v {
	case report.VerdictReachable:
		return s.paint(bold+green, text)
	case report.VerdictBlocked:
		return s.paint(bold+red, text)
	case report.VerdictDegraded:
		return s.paint(bold+yellow, text)
	}
	return s.paint(bold+cyan, text)
}

// Text draws the path hop by hop, then the findings, then the root cause and its fix last.
func Text(w io.Writer, t report.Trace, s Style) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s -> %s: %s\n", endpoint(t.Source), endpoint(t.Target), s.verdict(t.Verdict))
	var chain []string
	for _, h := range t.Hops {
		if h.Status == report.StatusSkip {
			continue
		}
		chain = append(chain, s.status(h.Status, mark(h.Status)+" "+string(h.Layer)))
	}
	fmt.Fprintf(&b, "%s\n\n", strings.Join(chain, " ─▶ "))
	for _, h := range t.Hops {
		fmt.Fprintf(&b, "  %s %-9s %s\n", s.status(h.Status, mark(h.Status)), h.Layer, h.Summary)
		if h.Status == report.StatusFail || h.Status == report.StatusWarn {
			for _, d := range h.Details {
				fmt.Fprintf(&b, "      %s\n", s.paint(dim, d))
			}
		}
	}
	others := otherFindings(t)
	if len(others) > 0 {
		fmt.Fprintf(&b, "\nfindings:\n")
		for _, f := range others {
			writeFinding(&b, f, s, "  ")
		}
	}
	if rc := t.RootCause; rc != nil {
		fmt.Fprintf(&b, "\n%s %s (%s) in %s\n", s.paint(bold, "root cause:"), s.paint(bold+red, string(rc.Code)), rc.Layer, objectName(rc.Object))
		fmt.Fprintf(&b, "  %s\n", rc.Message)
		for _, f := range t.Findings {
			if f.Code == rc.Code && f.Object == rc.Object {
				for _, e := range f.Evidence {
					fmt.Fprintf(&b, "    · %s\n", e)
				}
				break
			}
		}
		if rc.Fix != "" {
			fmt.Fprintf(&b, "%s %s\n", s.paint(bold+green, "fix:"), rc.Fix)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// otherFindings are the findings besides the root cause, errors first.
func otherFindings(t report.Trace) []report.Finding {
	var out []report.Finding
	for _, f := range t.Findings {
		if t.RootCause != nil && f.Code == t.RootCause.Code && f.Object == t.RootCause.Object {
			continue
		}
		out = append(out, f)
	}
	return out
}

func writeFinding(b *strings.Builder, f report.Finding, s Style, indent string) {
	sev := map[report.Severity]string{report.SeverityError: s.paint(red, "✗"), report.SeverityWarning: s.paint(yellow, "!"), report.SeverityInfo: s.paint(cyan, "i")}[f.Severity]
	fmt.Fprintf(b, "%s%s %s [%s] %s: %s\n", indent, sev, f.Code, f.Layer, objectName(f.Object), f.Message)
	for _, e := range f.Evidence {
		fmt.Fprintf(b, "%s    · %s\n", indent, e)
	}
	if f.Fix != "" {
		fmt.Fprintf(b, "%s    fix: %s\n", indent, f.Fix)
	}
}

func objectName(o report.ObjectRef) string {
	name := o.Kind + " " + o.Name
	if o.Namespace != "" {
		name = fmt.Sprintf("%s %s/%s", o.Kind, o.Namespace, o.Name)
	}
	if o.File != "" {
		name += fmt.Sprintf(" (%s:%d)", o.File, o.Line)
	}
	return name
}

func endpoint(e report.Endpoint) string {
	if e.Kind == "Outside" {
		return "outside"
	}
	s := e.As
	if s == "" {
		s = e.Kind + "/" + e.Name
	}
	if e.Pod != "" {
		s += " (pod " + e.Pod + ")"
	}
	return s
}
