package policy

import (
	"fmt"
	"strings"

	"reach/internal/report"
)

// RenderExplain draws one decision as text: per direction, every policy considered with its tier,
// action and rules (and the part of each rule that failed), then the verdict and the smallest fix.
func RenderExplain(d Decision) string {
	var b strings.Builder
	sides := []struct {
		dir  Direction
		what string
		side Side
	}{{Egress, "egress of the source", d.Egress}, {Ingress, "ingress of the destination", d.Ingress}}
	for _, s := range sides {
		fmt.Fprintf(&b, "%s: %s (%s)\n", s.what, allowWord(s.side.Allowed), sideTier(s.side))
		fmt.Fprintf(&b, "  %s\n", s.side.Summary)
		for _, v := range d.Verdicts {
			if v.Direction == s.dir {
				writeVerdict(&b, v, v.Summary != s.side.Summary)
			}
		}
		b.WriteString("\n")
	}
	for _, u := range d.Unknown {
		fmt.Fprintf(&b, "not evaluated: %s\n", u)
	}
	fmt.Fprintf(&b, "verdict: %s\n", explainVerdict(d))
	if f, ok := smallestFix(d); ok {
		fmt.Fprintf(&b, "smallest fix (%s): %s\n", f.Code, f.Fix)
	}
	if len(d.Findings) > 0 {
		b.WriteString("findings:\n")
	}
	for _, f := range d.Findings {
		fmt.Fprintf(&b, "  %s %s: %s\n", f.Severity, f.Code, f.Message)
	}
	return b.String()
}

func allowWord(ok bool) string {
	if ok {
		return "allowed"
	}
	return "denied"
}

func sideTier(s Side) string {
	switch {
	case s.Tier == TierDefault:
		return "no tier decided: allowed by default"
	case s.Isolated:
		return fmt.Sprintf("decided by the %s tier, isolated", s.Tier)
	}
	return fmt.Sprintf("decided by the %s tier", s.Tier)
}

// writeVerdict draws one policy considered: "*" marks the deciding ones.
func writeVerdict(b *strings.Builder, v RuleVerdict, summary bool) {
	mark := " "
	if v.Deciding {
		mark = "*"
	}
	name := strings.TrimPrefix(v.Policy.Namespace+"/"+v.Policy.Name, "/")
	tier := string(v.Tier)
	if v.Priority != nil {
		tier += fmt.Sprintf(", priority %d", *v.Priority)
	}
	fmt.Fprintf(b, "  %s %s %s [%s]: %s\n", mark, v.Policy.Kind, name, tier, verdictAction(v))
	if summary {
		fmt.Fprintf(b, "      %s\n", v.Summary)
	}
	for _, r := range v.Rules {
		fmt.Fprintf(b, "      rule %d%s %s (%s): %s\n", r.Index, quoted(r.Name), r.Field, r.Action, outcome(r.Matched, r.Failed))
		for _, p := range r.Peers {
			fmt.Fprintf(b, "        %s: %s: %s\n", p.Field, outcome(p.Matched, p.Failed), p.Why)
		}
		fmt.Fprintf(b, "        ports: %s\n", r.Ports)
	}
}

func verdictAction(v RuleVerdict) string {
	if v.Rule < 0 {
		if v.Tier == TierNetworkPolicy {
			return "isolates, no rule matches"
		}
		return "no rule matches, no effect"
	}
	return fmt.Sprintf("%s by rule %d%s", actionWord(v.Action), v.Rule, quoted(v.RuleName))
}

func outcome(matched bool, failed []Part) string {
	if matched {
		return "matches"
	}
	return "fails on " + partList(failed)
}

// explainVerdict says whether the flow passes and which direction stopped it.
func explainVerdict(d Decision) string {
	if d.Allowed {
		return "allowed"
	}
	var why []string
	if !d.Egress.Allowed {
		why = append(why, fmt.Sprintf("egress denied by the %s tier", d.Egress.Tier))
	}
	if !d.Ingress.Allowed {
		why = append(why, fmt.Sprintf("ingress denied by the %s tier", d.Ingress.Tier))
	}
	return "denied (" + strings.Join(why, ", ") + ")"
}

// smallestFix is the fix of the first error finding: findings list the smallest change first.
func smallestFix(d Decision) (report.Finding, bool) {
	for _, f := range d.Findings {
		if f.Severity == report.SeverityError && f.Fix != "" {
			return f, true
		}
	}
	return report.Finding{}, false
}
