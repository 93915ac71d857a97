package trace

import "reach/internal/report"

// checkNodes: the nodes the path crosses are Ready and their network plugin is ready.
func (r *run) checkNodes() {
	mark := r.begin()
	r.end(mark, report.LayerNode, report.StatusUnknown, "not checked yet")
}
