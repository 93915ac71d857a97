// Package ground checks reach's verdicts against real traffic. It realises the
// scenarios under testdata/dataplane as real workloads on the dataplane lab
// (reach/lab/cluster), traces each case live and from a snapshot of the same cluster,
// then sends real packets from the case's source and fails when what they did
// disagrees with the trace.
package ground
