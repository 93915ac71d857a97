package policy

import (
	"fmt"
	"strconv"
	"strings"
)

// RenderTable draws the matrix as text: rows are source classes, columns destination classes,
// "." reachable and "X" not, followed by the legend of classes.
func RenderTable(r MatrixResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d/%s, %d pods in %d source and %d destination classes\n\n", r.Port, r.Protocol, r.Pods, len(r.Sources), len(r.Destinations))
	w := 4
	for _, c := range append(append([]Class(nil), r.Sources...), r.Destinations...) {
		if len(c.ID) > w {
			w = len(c.ID)
		}
	}
	line := fmt.Sprintf("%-*s", w, "")
	for _, d := range r.Destinations {
		line += fmt.Sprintf(" %-*s", w, d.ID)
	}
	b.WriteString(strings.TrimRight(line, " ") + "\n")
	for i, s := range r.Sources {
		line = fmt.Sprintf("%-*s", w, s.ID)
		for j := range r.Destinations {
			mark := "X"
			if r.Cells[i][j].Allowed {
				mark = "."
			}
			line += fmt.Sprintf(" %-*s", w, mark)
		}
		b.WriteString(strings.TrimRight(line, " ") + "\n")
	}
	b.WriteString("\n")
	for _, c := range r.Sources {
		fmt.Fprintf(&b, "%-*s %s (%s)\n", w, c.ID, c.Name(), podCount(len(c.Members)))
	}
	for _, c := range r.Destinations {
		fmt.Fprintf(&b, "%-*s %s (%s)\n", w, c.ID, c.Name(), podCount(len(c.Members)))
	}
	return b.String()
}

func podCount(n int) string {
	if n == 1 {
		return "1 pod"
	}
	return fmt.Sprintf("%d pods", n)
}

// RenderCSV writes one row per pair of classes with what decided it.
func RenderCSV(r MatrixResult) string {
	var b strings.Builder
	b.WriteString("from,from_class,to,to_class,port,protocol,allowed,egress_tier,ingress_tier,decided_by\n")
	for i, s := range r.Sources {
		for j, d := range r.Destinations {
			c := r.Cells[i][j]
			fields := []string{s.ID, s.Name(), d.ID, d.Name(), strconv.Itoa(int(r.Port)), string(r.Protocol),
				strconv.FormatBool(c.Allowed), string(c.Egress), string(c.Ingress), strings.Join(c.DecidedBy, "; ")}
			for k, f := range fields {
				fields[k] = csvField(f)
			}
			b.WriteString(strings.Join(fields, ",") + "\n")
		}
	}
	return b.String()
}

func csvField(s string) string {
	if strings.ContainsAny(s, ",\"\n") {
		return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
	}
	return s
}

// RenderDot draws the allowed pairs as a Graphviz digraph; a class that is both a source and a
// destination with the same members is drawn once.
func RenderDot(r MatrixResult) string {
	var b strings.Builder
	b.WriteString("digraph reach {\n  rankdir=LR;\n  node [shape=box];\n")
	ids := map[string]string{}
	node := func(c Class) string {
		key := membersKey(c)
		if id, ok := ids[key]; ok {
			return id
		}
		ids[key] = c.ID
		fmt.Fprintf(&b, "  %q [label=%q];\n", c.ID, fmt.Sprintf("%s\n%s", c.Name(), podCount(len(c.Members))))
		return c.ID
	}
	from := make([]string, len(r.Sources))
	for i, s := range r.Sources {
		from[i] = node(s)
	}
	to := make([]string, len(r.Destinations))
	for j, d := range r.Destinations {
		to[j] = node(d)
	}
	for i := range r.Sources {
		for j := range r.Destinations {
			if r.Cells[i][j].Allowed {
				fmt.Fprintf(&b, "  %q -> %q;\n", from[i], to[j])
			}
		}
	}
	b.WriteString("}\n")
	return b.String()
}

func membersKey(c Class) string {
	parts := make([]string, len(c.Members))
	for i, m := range c.Members {
		parts[i] = m.Namespace + "/" + m.Name
	}
	return strings.Join(parts, " ")
}
