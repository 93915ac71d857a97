package cluster

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestTeardownGone checks that a teardown counts what is already gone as removed and
// still reports a removal that failed on something that is there.
func TestTeardownGone(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing")
	if err := removeFile(missing); err != nil {
		t.Errorf("removeFile of a missing file: %v", err)
	}
	failed := errors.New("ip link delete rlab0: Cannot find device")
	if err := unlessGone(failed, missing); err != nil {
		t.Errorf("unlessGone of a missing thing: %v", err)
	}
	present := filepath.Join(dir, "present")
	if err := os.WriteFile(present, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := unlessGone(failed, present); !errors.Is(err, failed) {
		t.Errorf("unlessGone of a thing still there: %v, want %v", err, failed)
	}
	if err := unlessGone(nil, present); err != nil {
		t.Errorf("unlessGone of no error: %v", err)
	}
	if err := removeFile(present); err != nil || !gone(present) {
		t.Errorf("removeFile: %v, gone %v", err, gone(present))
	}
	if err := removeHostPaths(filepath.Join(dir, "rlab"), []string{missing, filepath.Join(missing, "deeper")}); err != nil {
		t.Errorf("removeHostPaths of missing paths: %v", err)
	}
	if err := unmountUnder(filepath.Join(dir, "rlab")); err != nil {
		t.Errorf("unmountUnder with nothing mounted: %v", err)
	}
}
