package testlab

import (
	"context"
	"testing"
	"time"
)

func TestTmpBoot(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	began := time.Now()
	l, err := Launch(ctx, Options{BinDir: "/tmp/fakebin"})
	t.Logf("after %v: %v", time.Since(began), err)
	if err != nil {
		return
	}
	defer l.Stop()
	objs, err := LoadObjects("testdata/shop")
	if err != nil {
		t.Fatal(err)
	}
	began = time.Now()
	err = l.Apply(ctx, objs)
	t.Logf("apply after %v: %v", time.Since(began), err)
}
